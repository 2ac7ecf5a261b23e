import type { FieldSpec } from "../FieldCatalog.ts"

/** Shorthand for catalog data: `field("email", "email", { maxLength: 512 })`. */
export const field = (
  path: string,
  type: FieldSpec["type"],
  extra: Omit<FieldSpec, "path" | "type"> = {}
): FieldSpec => ({
  path,
  type,
  ...extra
})

export const readOnly = (path: string, type: FieldSpec["type"], extra: Omit<FieldSpec, "path" | "type"> = {}) =>
  field(path, type, { readOnly: true, ...extra })
