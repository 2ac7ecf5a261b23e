import { Effect } from "effect"
import { Forbidden } from "../../domain/Errors.ts"
import type { TenantId } from "../../domain/Ids.ts"
import { type Principal, Principal as PrincipalClass } from "../../domain/Principal.ts"
import type { OperationsStore, OpsScope } from "../../ports/operations/OperationsStore.ts"

/** A tenant `admin` sees its own tenant; an `operator` (platform SRE) every tenant; nobody else these routes. */
export const scopeOf = (principal: Principal): Effect.Effect<OpsScope, Forbidden> =>
  principal.role === "operator"
    ? Effect.succeed({ _tag: "all" })
    : principal.role === "admin"
      ? Effect.succeed({ _tag: "tenant", tenantId: principal.tenantId })
      : Effect.fail(new Forbidden({ message: `role ${principal.role} may not use the admin and monitoring routes` }))

/** Who did it: every state-changing admin or monitoring request is written to operator_actions. */
export const recordAction = (
  store: OperationsStore["Service"],
  principal: Principal,
  scope: OpsScope,
  action: string,
  request: unknown,
  result: unknown
) =>
  store.recordAction({
    actor: principal.userId,
    actorRole: principal.role,
    actorTenant: principal.tenantId,
    scopeTenant: scope._tag === "tenant" ? scope.tenantId : null,
    action,
    request,
    result
  })

/**
 * The caller acting on one tenant through a use case that checks for a tenant admin (the webhook retry path): the
 * operator's own id, that tenant, no venue of its own.
 */
export const actingAdmin = (principal: Principal, tenantId: TenantId) =>
  new PrincipalClass({ userId: principal.userId, tenantId, venueIds: [], role: "admin" })

/** Rows grouped by their tenant, for writes carried out tenant by tenant. */
export const byTenant = <A extends { readonly tenantId: TenantId }>(rows: ReadonlyArray<A>) => {
  const groups = new Map<TenantId, Array<A>>()
  for (const row of rows) groups.set(row.tenantId, [...(groups.get(row.tenantId) ?? []), row])
  return groups
}
