import { Clock, Context, Effect, Layer, Option, Schema } from "effect"
import type { Connection } from "../../domain/Connection.ts"
import { canonicalCatalogs, type EntityType } from "../../domain/canonical/EntityType.ts"
import { ConnectionNotFound, Forbidden, Unprocessable } from "../../domain/Errors.ts"
import type { VenueId } from "../../domain/Ids.ts"
import { providerCatalog, sidesOf } from "../../domain/mapping/Catalogs.ts"
import { compileRules, type MappingOutcome } from "../../domain/mapping/Compile.ts"
import { defaultTemplate } from "../../domain/mapping/DefaultTemplates.ts"
import type { FieldCatalog, FieldSpec } from "../../domain/mapping/FieldCatalog.ts"
import { attachStableIds, brokenRules, type HealChange, healRules } from "../../domain/mapping/Heal.ts"
import { InvalidMapping, MappingNotFound, TemplateNotFound } from "../../domain/mapping/MappingErrors.ts"
import type { Direction, Rule } from "../../domain/mapping/Rule.ts"
import type { BrokenRule, MappingKey, MappingTemplate, SavedMapping } from "../../domain/mapping/SavedMapping.ts"
import { validateRules } from "../../domain/mapping/Validate.ts"
import { OAuthProviderName } from "../../domain/OAuth.ts"
import { ReauthorizationRequired } from "../../domain/OAuthErrors.ts"
import type { Principal } from "../../domain/Principal.ts"
import type { Provider } from "../../domain/Provider.ts"
import { entitiesFor, mappedEntities, supportsPair } from "../../domain/sync/SupportedPairs.ts"
import { ConnectionSettingsStore } from "../../ports/ConnectionSettingsStore.ts"
import { ConnectionStore } from "../../ports/ConnectionStore.ts"
import { CustomFieldDiscovery } from "../../ports/CustomFieldDiscovery.ts"
import { MappingStore } from "../../ports/MappingStore.ts"
import { MappingTemplates } from "../../ports/MappingTemplates.ts"
import { SyncRecords } from "../../ports/sync/SyncRecords.ts"
import { requireManage } from "../Authorize.ts"
import { SyncJobs } from "../sync/SyncJobs.ts"
import { TokenVault } from "../TokenVault.ts"

/** How long discovered custom fields are reused before the provider is asked again (heal always asks). */
export const customFieldsTtlMillis = 60_000
/** At most this many samples per dry run. */
export const maxSamples = 100
/** How many synced records a dry run without samples tries. */
export const defaultSamples = 5

const isOAuth = Schema.is(OAuthProviderName)

/** A mapping as the API shows it: version 0 is the default template, not saved yet. */
export interface MappingView {
  readonly entityType: EntityType
  readonly direction: Direction
  readonly version: number
  readonly rules: ReadonlyArray<Rule>
  readonly template: string | null
  readonly updatedAt: Date | null
  readonly updatedBy: string | null
  readonly status: "ok" | "broken"
  readonly brokenRules: ReadonlyArray<BrokenRule>
}

export interface MappingTarget {
  readonly venueId: VenueId
  readonly provider: Provider
  readonly entityType: EntityType
  readonly direction: Direction
}

export interface HealOutcome {
  readonly entityType: EntityType
  readonly direction: Direction
  readonly fromVersion: number
  readonly version: number
  readonly changes: ReadonlyArray<HealChange>
}

const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

/**
 * The mapping use cases behind the seven `/:provider/fields|mappings…` routes: catalogs with the account's custom
 * fields, versioned saves validated against both sides, dry runs, templates, reset and heal. Every one needs a
 * principal who may manage the venue; nothing is written unless every rule validates.
 */
export class Mappings extends Context.Service<Mappings>()("integration-service/application/mappings/Mappings", {
  make: Effect.gen(function* () {
    const connections = yield* ConnectionStore
    const settings = yield* ConnectionSettingsStore
    const store = yield* MappingStore
    const templates = yield* MappingTemplates
    const discovery = yield* CustomFieldDiscovery
    const tokens = yield* TokenVault
    // Synced records, where the sync engine runs: dry-run samples, Stripe metadata keys, and remaps after a change.
    const synced = yield* Effect.serviceOption(SyncRecords)
    const sync = yield* Effect.serviceOption(SyncJobs)
    const cache = new Map<string, { readonly at: number; readonly fields: FieldCatalog }>()

    const connectionOf = Effect.fnUntraced(function* (principal: Principal, venueId: VenueId, provider: Provider) {
      yield* requireManage(principal, venueId)
      const found = yield* connections.find(principal.tenantId, venueId, provider)
      if (Option.isNone(found) || found.value.status === "disconnected")
        return yield* new ConnectionNotFound({ provider, venueId })
      return found.value
    })

    /** The supported-pairs table decides: a pair that is never synced in a direction has no mapping for it. */
    const requireSupported = (provider: Provider, entityType: EntityType, direction?: Direction) =>
      !mappedEntities(provider).includes(entityType)
        ? Effect.fail(
            new Unprocessable({
              field: "entityType",
              message: `${provider} maps ${mappedEntities(provider).join(", ")}, not ${entityType}`
            })
          )
        : direction !== undefined && !supportsPair(provider, entityType, direction)
          ? Effect.fail(
              new Unprocessable({
                field: "direction",
                message: `${provider} syncs ${entityType} ${direction === "inbound" ? "outbound" : "inbound"} only; ${direction} takes ${entitiesFor(provider, direction).join(", ")}`
              })
            )
          : Effect.void

    /** The account's custom fields for an entity type: from the cache unless `fresh`, else from the provider. */
    const customFields = Effect.fnUntraced(function* (connection: Connection, entityType: EntityType, fresh: boolean) {
      const provider = connection.provider
      if (!isOAuth(provider)) return yield* metadataFields(connection, entityType)
      // Mailchimp's merge fields belong to the audience the venue chose (PUT /mailchimp/settings); another choice is
      // another cache entry.
      const chosen =
        provider === "mailchimp" ? (yield* settings.read(connection.tenantId, connection.id)).listId : undefined
      const key = `${connection.id}|${entityType}|${chosen ?? ""}`
      const at = yield* Clock.currentTimeMillis
      const cached = cache.get(key)
      if (!fresh && cached !== undefined && at - cached.at < customFieldsTtlMillis) return cached.fields
      const token = yield* tokens.accessToken({ tenantId: connection.tenantId, id: connection.id })
      const fields = yield* discovery
        .discover({
          provider,
          entityType,
          accessToken: token.token,
          accountId: connection.accountId,
          extra: token.extra,
          audienceId: chosen ?? null
        })
        .pipe(
          Effect.catchTag("OAuthGrantRejected", (e) =>
            Effect.fail(new ReauthorizationRequired({ provider, venueId: connection.venueId, reason: e.message }))
          )
        )
      cache.set(key, { at, fields })
      return fields
    })

    /** Stripe's custom fields: the `metadata` keys its synced records use (any other key still maps via `metadata.*`). */
    const metadataFields = Effect.fnUntraced(function* (connection: Connection, entityType: EntityType) {
      if (Option.isNone(synced)) return [] as FieldCatalog
      const keys = yield* synced.value.metadataKeys(connection.tenantId, connection.id, entityType)
      return keys.map(
        (key): FieldSpec => ({
          path: `metadata.${key}`,
          type: "string",
          maxLength: 500,
          custom: { stableId: key, name: key }
        })
      )
    })

    /** A new inbound version is applied to the stored records from their raw payloads, as a job of its own. */
    const remapAfter = Effect.fnUntraced(function* (connection: Connection, saved: SavedMapping, by: string) {
      if (Option.isNone(sync) || saved.direction !== "inbound") return
      yield* sync.value.requestFor(
        connection,
        saved.entityType,
        "remap",
        `remap:${connection.id}:${saved.entityType}:${saved.version}`,
        by
      )
    })

    const keyOf = (connection: Connection, entityType: EntityType, direction: Direction): MappingKey => ({
      tenantId: connection.tenantId,
      connectionId: connection.id,
      entityType,
      direction
    })

    const providerSide = (provider: Provider, entityType: EntityType, custom: FieldCatalog) => [
      ...providerCatalog(provider, entityType),
      ...custom
    ]

    /** Validated rules with the stable ids of the custom fields they name, or every problem. */
    const checked = Effect.fnUntraced(function* (
      provider: Provider,
      entityType: EntityType,
      direction: Direction,
      custom: FieldCatalog,
      rules: ReadonlyArray<Rule>
    ) {
      const { sources, targets } = sidesOf(provider, entityType, direction, custom)
      const problems = validateRules(rules, sources, targets)
      if (problems.length > 0) return yield* new InvalidMapping({ problems })
      return attachStableIds(rules, direction, providerSide(provider, entityType, custom))
    })

    /** The saved mapping, or the default template as version 0; its broken rules recorded against the live fields. */
    const view = Effect.fnUntraced(function* (
      connection: Connection,
      entityType: EntityType,
      direction: Direction,
      custom: FieldCatalog
    ) {
      const key = keyOf(connection, entityType, direction)
      const saved = yield* store.current(key)
      if (Option.isNone(saved)) {
        const fallback = defaultTemplate(connection.provider, entityType, direction)
        return {
          entityType,
          direction,
          version: 0,
          rules: fallback?.rules ?? [],
          template: fallback === undefined ? null : `builtin:${fallback.name}`,
          updatedAt: null,
          updatedBy: null,
          status: "ok",
          brokenRules: []
        } satisfies MappingView
      }
      const broken = brokenRules(saved.value.rules, direction, providerSide(connection.provider, entityType, custom))
      yield* store.markBroken(key, broken)
      return {
        ...saved.value,
        status: broken.length === 0 ? "ok" : "broken",
        brokenRules: broken
      } satisfies MappingView
    })

    const fields = Effect.fn("Mappings.fields")(function* (
      principal: Principal,
      venueId: VenueId,
      provider: Provider,
      entityType: EntityType,
      direction?: Direction
    ) {
      yield* Effect.annotateCurrentSpan({ provider, "venue.id": venueId, "mapping.entity": entityType })
      const connection = yield* connectionOf(principal, venueId, provider)
      yield* requireSupported(provider, entityType, direction)
      const custom = yield* customFields(connection, entityType, false)
      return {
        entityType,
        standard: providerCatalog(provider, entityType),
        custom,
        canonical: canonicalCatalogs[entityType]
      }
    })

    const get = Effect.fn("Mappings.get")(function* (
      principal: Principal,
      target: MappingTarget,
      version: number | undefined
    ) {
      yield* Effect.annotateCurrentSpan({ provider: target.provider, "venue.id": target.venueId })
      const connection = yield* connectionOf(principal, target.venueId, target.provider)
      yield* requireSupported(target.provider, target.entityType, target.direction)
      if (version !== undefined) {
        const found = yield* store.version(keyOf(connection, target.entityType, target.direction), version)
        if (Option.isNone(found)) return yield* new MappingNotFound({ ...target, version })
        return found.value satisfies MappingView
      }
      const custom = yield* customFields(connection, target.entityType, false)
      return yield* view(connection, target.entityType, target.direction, custom)
    })

    const put = Effect.fn("Mappings.put")(function* (
      principal: Principal,
      target: MappingTarget,
      rules: ReadonlyArray<Rule>,
      expectedVersion: number | undefined
    ) {
      yield* Effect.annotateCurrentSpan({ provider: target.provider, "venue.id": target.venueId })
      const connection = yield* connectionOf(principal, target.venueId, target.provider)
      yield* requireSupported(target.provider, target.entityType, target.direction)
      const custom = yield* customFields(connection, target.entityType, false)
      const valid = yield* checked(target.provider, target.entityType, target.direction, custom, rules)
      const saved = yield* store.save(keyOf(connection, target.entityType, target.direction), {
        rules: valid,
        template: null,
        updatedBy: principal.userId,
        at: yield* now,
        expectedVersion
      })
      yield* remapAfter(connection, saved, principal.userId)
      return saved
    })

    const test = Effect.fn("Mappings.test")(function* (
      principal: Principal,
      target: MappingTarget,
      draft: ReadonlyArray<Rule> | undefined,
      samples: ReadonlyArray<unknown>
    ) {
      yield* Effect.annotateCurrentSpan({ provider: target.provider, "venue.id": target.venueId })
      const connection = yield* connectionOf(principal, target.venueId, target.provider)
      yield* requireSupported(target.provider, target.entityType, target.direction)
      // Without samples: the connection's most recently synced records (raw inbound, canonical outbound).
      const tried =
        samples.length > 0 || Option.isNone(synced)
          ? samples
          : (yield* synced.value.samples(principal.tenantId, connection.id, target.entityType, defaultSamples)).map(
              (r) => (target.direction === "inbound" ? r.raw : r.data)
            )
      if (tried.length === 0)
        return yield* new Unprocessable({
          field: "samples",
          message: "no synced records of this connection to try the mapping on yet; pass samples"
        })
      if (samples.length > maxSamples)
        return yield* new Unprocessable({
          field: "samples",
          message: `at most ${maxSamples} samples, got ${samples.length}`
        })
      const custom = yield* customFields(connection, target.entityType, false)
      const rules =
        draft === undefined
          ? (yield* view(connection, target.entityType, target.direction, custom)).rules
          : yield* checked(target.provider, target.entityType, target.direction, custom, draft)
      const { targets } = sidesOf(target.provider, target.entityType, target.direction, custom)
      const mapping = compileRules(rules, targets)
      return tried.map((sample): MappingOutcome => mapping(sample))
    })

    /** Saves each template's rules as a new version of its entity × direction, after every one has validated. */
    const saveFrom = Effect.fnUntraced(function* (
      principal: Principal,
      connection: Connection,
      chosen: ReadonlyArray<MappingTemplate>
    ) {
      const prepared = yield* Effect.forEach(chosen, (t) =>
        Effect.flatMap(customFields(connection, t.entityType, false), (custom) =>
          checked(connection.provider, t.entityType, t.direction, custom, t.rules).pipe(
            Effect.map((rules) => ({ template: t, rules }))
          )
        )
      )
      const at = yield* now
      return yield* Effect.forEach(prepared, ({ template, rules }) =>
        store
          .save(keyOf(connection, template.entityType, template.direction), {
            rules,
            template: template.id,
            updatedBy: principal.userId,
            at
          })
          .pipe(
            Effect.tap(() => templates.countUse(principal.tenantId, template)),
            Effect.tap((saved) => remapAfter(connection, saved, principal.userId))
          )
      )
    })

    const applyTemplate = Effect.fn("Mappings.applyTemplate")(function* (
      principal: Principal,
      venueId: VenueId,
      provider: Provider,
      template: string,
      entityType: EntityType | undefined
    ) {
      yield* Effect.annotateCurrentSpan({ provider, "venue.id": venueId, "mapping.template": template })
      const connection = yield* connectionOf(principal, venueId, provider)
      if (entityType !== undefined) yield* requireSupported(provider, entityType)
      const found = yield* templates.find(principal.tenantId, provider, template)
      const chosen = found.filter((t) => entityType === undefined || t.entityType === entityType)
      if (chosen.length === 0)
        return yield* new TemplateNotFound({
          template,
          message: `${provider} has no template ${template}${entityType === undefined ? "" : ` for ${entityType}`}; GET /${provider}/mappings/templates lists them`
        })
      return yield* saveFrom(principal, connection, chosen)
    })

    const reset = Effect.fn("Mappings.reset")(function* (
      principal: Principal,
      venueId: VenueId,
      provider: Provider,
      entityType: EntityType | undefined,
      direction: Direction | undefined
    ) {
      yield* Effect.annotateCurrentSpan({ provider, "venue.id": venueId })
      const connection = yield* connectionOf(principal, venueId, provider)
      if (entityType !== undefined) yield* requireSupported(provider, entityType)
      const general = yield* templates.find(principal.tenantId, provider, "builtin:general")
      const chosen = general.filter(
        (t) =>
          (entityType === undefined || t.entityType === entityType) &&
          (direction === undefined || t.direction === direction)
      )
      return yield* saveFrom(principal, connection, chosen)
    })

    const heal = Effect.fn("Mappings.heal")(function* (
      principal: Principal,
      venueId: VenueId,
      provider: Provider,
      dryRun: boolean
    ) {
      yield* Effect.annotateCurrentSpan({ provider, "venue.id": venueId, "mapping.dry_run": dryRun })
      const connection = yield* connectionOf(principal, venueId, provider)
      const saved = yield* store.ofConnection(principal.tenantId, connection.id)
      const at = yield* now
      const outcomes: Array<HealOutcome> = []
      for (const mapping of saved) {
        const custom = yield* customFields(connection, mapping.entityType, true)
        const live = providerSide(provider, mapping.entityType, custom)
        const { rules, changes } = healRules(mapping.rules, mapping.direction, live)
        const key = keyOf(connection, mapping.entityType, mapping.direction)
        let version = mapping.version
        if (dryRun || changes.length === 0)
          yield* store.markBroken(key, brokenRules(mapping.rules, mapping.direction, live))
        else {
          const saved = yield* store.save(key, {
            rules,
            template: mapping.template,
            updatedBy: principal.userId,
            at,
            expectedVersion: mapping.version
          })
          yield* remapAfter(connection, saved, principal.userId)
          version = saved.version
        }
        outcomes.push({
          entityType: mapping.entityType,
          direction: mapping.direction,
          fromVersion: mapping.version,
          version,
          changes
        })
      }
      return { dryRun, mappings: outcomes }
    })

    const saveTemplate = Effect.fn("Mappings.saveTemplate")(function* (
      principal: Principal,
      target: MappingTarget,
      name: string
    ) {
      yield* Effect.annotateCurrentSpan({ provider: target.provider, "venue.id": target.venueId })
      const connection = yield* connectionOf(principal, target.venueId, target.provider)
      yield* requireSupported(target.provider, target.entityType, target.direction)
      const saved = yield* store.current(keyOf(connection, target.entityType, target.direction))
      if (Option.isNone(saved)) return yield* new MappingNotFound({ ...target, version: null })
      return yield* templates.save({
        tenantId: principal.tenantId,
        provider: target.provider,
        entityType: target.entityType,
        direction: target.direction,
        name,
        rules: saved.value.rules,
        createdBy: principal.userId
      })
    })

    const listTemplates = Effect.fn("Mappings.listTemplates")(function* (principal: Principal, provider: Provider) {
      if (principal.role !== "admin" && principal.role !== "venue_admin")
        return yield* new Forbidden({ message: `role ${principal.role} may not manage mappings` })
      return yield* templates.list(principal.tenantId, provider)
    })

    /** Whether any mapping of the connection is broken, and which rules: what the connection reports. */
    const statusOf = Effect.fn("Mappings.statusOf")(function* (connection: Connection) {
      const saved = yield* store.ofConnection(connection.tenantId, connection.id)
      const broken = saved.filter((m) => m.status === "broken")
      return {
        mappingStatus: broken.length === 0 ? ("ok" as const) : ("broken" as const),
        brokenMappings: broken.map((m) => ({ entityType: m.entityType, direction: m.direction, rules: m.brokenRules }))
      }
    })

    return { fields, get, put, test, applyTemplate, reset, heal, saveTemplate, listTemplates, statusOf }
  })
}) {
  static readonly layer = Layer.effect(this, this.make)
}
