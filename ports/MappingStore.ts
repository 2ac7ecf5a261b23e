import type { Effect, Option } from "effect"
import { Context } from "effect"
import type { StoreUnavailable } from "../domain/Errors.ts"
import type { ConnectionId, TenantId } from "../domain/Ids.ts"
import type { MappingVersionConflict } from "../domain/mapping/MappingErrors.ts"
import type { BrokenRule, MappingDraft, MappingKey, SavedMapping } from "../domain/mapping/SavedMapping.ts"

/**
 * Versioned mappings per connection × entity × direction. Every save is a new
 * version, kept; a save naming `expectedVersion` fails with
 * `MappingVersionConflict` when another save came first.
 */
export class MappingStore extends Context.Service<
  MappingStore,
  {
    readonly current: (key: MappingKey) => Effect.Effect<Option.Option<SavedMapping>, StoreUnavailable>
    /** An earlier (or the current) version, with the status the mapping has now. */
    readonly version: (key: MappingKey, version: number) => Effect.Effect<Option.Option<SavedMapping>, StoreUnavailable>
    /** The versions saved, newest first. */
    readonly history: (key: MappingKey) => Effect.Effect<ReadonlyArray<SavedMapping>, StoreUnavailable>
    /** Saves a new version (status `ok`); answers it. */
    readonly save: (
      key: MappingKey,
      draft: MappingDraft
    ) => Effect.Effect<SavedMapping, MappingVersionConflict | StoreUnavailable>
    /** Records which rules name provider fields that are gone (none: `ok`), without a new version. */
    readonly markBroken: (key: MappingKey, broken: ReadonlyArray<BrokenRule>) => Effect.Effect<void, StoreUnavailable>
    /** Every mapping of a connection, current versions. */
    readonly ofConnection: (
      tenantId: TenantId,
      connectionId: ConnectionId
    ) => Effect.Effect<ReadonlyArray<SavedMapping>, StoreUnavailable>
  }
>()("integration-service/ports/MappingStore") {}
