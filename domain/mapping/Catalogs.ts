import { canonicalCatalogs, type EntityType } from "../canonical/EntityType.ts"
import type { Provider } from "../Provider.ts"
import { mailchimpCatalog } from "./catalogs/MailchimpCatalog.ts"
import { quickbooksCatalog } from "./catalogs/QuickBooksCatalog.ts"
import { squareCatalog } from "./catalogs/SquareCatalog.ts"
import { stripeCatalog } from "./catalogs/StripeCatalog.ts"
import type { FieldCatalog } from "./FieldCatalog.ts"
import type { Direction } from "./Rule.ts"

const catalogs: Record<Provider, Record<string, FieldCatalog>> = {
  stripe: stripeCatalog,
  square: squareCatalog,
  quickbooks: quickbooksCatalog,
  mailchimp: mailchimpCatalog
}

/** The provider's standard fields for an entity type (custom fields come from discovery). */
export const providerCatalog = (provider: Provider, entity: EntityType): FieldCatalog =>
  catalogs[provider][entity] ?? []

/** Source and target catalogs of a mapping: provider → canonical inbound, canonical → provider outbound. */
export const sidesOf = (
  provider: Provider,
  entity: EntityType,
  direction: Direction,
  custom: FieldCatalog = []
): { readonly sources: FieldCatalog; readonly targets: FieldCatalog } => {
  const providerSide = [...providerCatalog(provider, entity), ...custom]
  const canonical = canonicalCatalogs[entity]
  return direction === "inbound"
    ? { sources: providerSide, targets: canonical }
    : { sources: canonical, targets: providerSide }
}
