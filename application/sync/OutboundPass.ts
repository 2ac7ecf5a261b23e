import { Config, Context, Effect, Fiber, Layer, Option, Ref } from "effect"
import type { Connection } from "../../domain/Connection.ts"
import type { EntityType } from "../../domain/canonical/EntityType.ts"
import type { StoreUnavailable } from "../../domain/Errors.ts"
import type { ConnectionId, TenantId, VenueId } from "../../domain/Ids.ts"
import { defaultPolicy, shouldPush } from "../../domain/sync/ConflictPolicy.ts"
import { fieldsHash, outboundKey } from "../../domain/sync/OutboundKey.ts"
import { type Checkpoint, type JobCounts, noCounts, type SyncJob } from "../../domain/sync/SyncJob.ts"
import { OutboundRecords, type PlatformChange, type Pushed, type PushLink } from "../../ports/sync/OutboundRecords.ts"
import type { DataCredential, ProviderCallFailed } from "../../ports/sync/ProviderData.ts"
import { type OutboundItem, ProviderWrites, type WriteOutcome } from "../../ports/sync/ProviderWrites.ts"
import { type LostClaim, SyncJobStore } from "../../ports/sync/SyncJobStore.ts"
import { CompiledMappings } from "./CompiledMappings.ts"
import { DataCredentials } from "./DataCredentials.ts"
import { type CallDelayed, ProviderCalls } from "./ProviderCalls.ts"

export const OutboundConfig = Config.all({
  /** Platform records read per page; each page's pushes commit with the job's checkpoint. */
  page: Config.Int("SYNC_OUTBOUND_PAGE").pipe(Config.withDefault(500))
})

/** Per-record errors logged per page; the rest are counted. */
const loggedFailures = 20

/** What one page decided before any provider call: the items to push, and what needs no call. */
interface Plan {
  readonly items: ReadonlyArray<OutboundItem>
  readonly skipped: number
  readonly problems: ReadonlyArray<string>
  /** Records both sides changed whose provider version the policy keeps: logged, not pushed. */
  readonly conflicts: ReadonlyArray<string>
}

const isUnauthorized = (e: unknown): e is ProviderCallFailed =>
  (e as ProviderCallFailed)._tag === "ProviderCallFailed" && (e as ProviderCallFailed).kind === "unauthorized"

/**
 * One outbound job: the venue's platform records of the entity in change order, a page at a time, mapped by the
 * outbound mapping and pushed through the provider's writer — creates for unlinked records, updates for linked ones
 * whose mapped fields changed, archives for deletions — under the account's budget and breakers. Each page's links
 * and counts commit with the checkpoint; a crash re-pushes the uncommitted page under the same idempotency keys.
 * Answers `completed`, or `stopped` on a stop request; provider failures end the run through the engine.
 */
export class OutboundPass extends Context.Service<OutboundPass>()("integration-service/application/sync/OutboundPass", {
  make: Effect.gen(function* () {
    const config = yield* OutboundConfig
    const jobs = yield* SyncJobStore
    const outbound = yield* OutboundRecords
    const writes = yield* ProviderWrites
    const calls = yield* ProviderCalls
    const credentials = yield* DataCredentials
    const mappings = yield* CompiledMappings

    const run = Effect.fnUntraced(function* (
      job: SyncJob,
      claim: string,
      connection: Connection,
      stop: Ref.Ref<boolean>
    ) {
      const tenantId = job.tenantId as TenantId
      const entityType = job.entityType
      const push = yield* mappings.current(connection, entityType, "outbound")
      const pull = yield* mappings.current(connection, entityType, "inbound")
      yield* jobs.started(tenantId, job.id, claim, push.version)
      const full = job.mode === "full"
      let checkpoint: Checkpoint
      if (job.checkpoint === null) {
        const from = full
          ? "0"
          : Option.getOrElse(yield* outbound.position(tenantId, connection.id, entityType), () => "0")
        checkpoint = { mode: full ? "full" : "incremental", since: null, cursor: from, watermark: null, pages: 0 }
      } else {
        checkpoint = job.checkpoint
        yield* jobs.log(tenantId, job.id, "info", `resuming after page ${checkpoint.pages}`)
      }
      const policy = (yield* outbound.policies(tenantId, connection.id)).get(entityType) ?? defaultPolicy(entityType)
      const writer = writes.writer(connection.provider)
      const batch = writer.batchSize(entityType)
      // A writer without batches makes one call per record: as many at once as the account's budget lets run.
      const concurrency = batch === 1 ? calls.budgets[connection.provider].concurrency : 1
      // A page holds at least one of the writer's batches: a smaller page would split each (Mailchimp's /batches).
      const pageSize = Math.max(config.page, batch)
      const target = {
        provider: connection.provider,
        account: connection.accountId ?? connection.id,
        connectionId: connection.id
      }
      const credential = yield* Ref.make<DataCredential>(yield* credentials.current(connection))
      const linkOf = (other: EntityType, platformId: string) =>
        Effect.map(outbound.linkOf(tenantId, connection.id, other, platformId), Option.getOrNull)
      const recordsOf = (other: EntityType, platformIds: ReadonlyArray<string>) =>
        outbound.records(tenantId, job.venueId as VenueId, other, platformIds)

      const plan = (changes: ReadonlyArray<PlatformChange>, links: ReadonlyMap<string, PushLink>): Plan => {
        const items: Array<OutboundItem> = []
        const problems: Array<string> = []
        const conflicts: Array<string> = []
        let skipped = 0
        for (const change of changes) {
          const link = links.get(change.id) ?? null
          const key = (what: string) => outboundKey(connection.id, entityType, change.id, change.version, what)
          if (change.deleted) {
            if (link === null || link.deleted) skipped++
            else
              items.push({
                platformId: change.id,
                version: change.version,
                fields: null,
                deleted: true,
                link,
                idempotencyKey: key("delete")
              })
            continue
          }
          const mapped = push.apply(change.data)
          if (mapped.errors.length > 0) {
            problems.push(
              `${change.id}: the outbound mapping failed: ${mapped.errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`
            )
            continue
          }
          const hash = fieldsHash(mapped.output)
          if (link !== null && !link.deleted && link.pushedHash === hash) {
            skipped++
            continue
          }
          if (link !== null && !shouldPush(policy, change.changedAt, link)) {
            skipped++
            conflicts.push(`${change.id}: changed on both sides; ${policy} keeps ${connection.provider}'s version`)
            continue
          }
          items.push({
            platformId: change.id,
            version: change.version,
            fields: mapped.output,
            deleted: false,
            link,
            idempotencyKey: key(`m${push.version}`)
          })
        }
        return { items, skipped, problems, conflicts }
      }

      const writeChunk = (items: ReadonlyArray<OutboundItem>) => {
        const once = Effect.flatMap(Ref.get(credential), (c) =>
          writer.write<CallDelayed | StoreUnavailable>({
            entityType,
            credential: c,
            items,
            call: (operation, effect) => calls.call(target, operation, effect),
            linkOf,
            recordsOf
          })
        )
        // A refused token is renewed once and the chunk pushed again: its keys make the repeat harmless.
        return once.pipe(
          Effect.catchIf(isUnauthorized, () =>
            credentials.renewed(connection).pipe(
              Effect.tap((renewed) => Ref.set(credential, renewed)),
              Effect.andThen(once)
            )
          )
        )
      }

      const logLines = (page: number, failures: ReadonlyArray<string>, conflicts: ReadonlyArray<string>) =>
        Effect.gen(function* () {
          for (const line of conflicts.slice(0, loggedFailures)) yield* jobs.log(tenantId, job.id, "info", line)
          for (const line of failures.slice(0, loggedFailures)) yield* jobs.log(tenantId, job.id, "warn", line)
          if (failures.length > loggedFailures)
            yield* jobs.log(
              tenantId,
              job.id,
              "warn",
              `${failures.length - loggedFailures} more records failed on page ${page}`
            )
        })

      const chunks = <A>(all: ReadonlyArray<A>): ReadonlyArray<ReadonlyArray<A>> => {
        const out: Array<ReadonlyArray<A>> = []
        for (let i = 0; i < all.length; i += batch) out.push(all.slice(i, i + batch))
        return out
      }

      const readPage = (after: string) =>
        outbound.changes(tenantId, job.venueId as VenueId, entityType, after, pageSize)
      // A page's commit runs while the next page is pushed; the next commit waits for it, so checkpoints advance in
      // order. Records whose push is not committed yet: a page naming one again (changed meanwhile) is planned only
      // once that commit is in, or its link would be missed and the record created twice.
      let committing: Fiber.Fiber<void, LostClaim | StoreUnavailable> | undefined
      const settle = Effect.suspend(() => (committing === undefined ? Effect.void : Fiber.join(committing)))
      const uncommitted = new Set<string>()

      /** A page's links and plan; null while one of its records waits for an earlier page's commit. */
      const prepare = Effect.fnUntraced(function* (changes: ReadonlyArray<PlatformChange>) {
        if (changes.some((c) => uncommitted.has(c.id))) return null
        for (const c of changes) uncommitted.add(c.id)
        const links = yield* outbound.links(
          tenantId,
          connection.id as ConnectionId,
          entityType,
          changes.map((c) => c.id)
        )
        return plan(changes, new Map(links.map((l) => [l.platformId, l])))
      })
      /** The page after a change number, planned at once (while the page before is pushed) unless a record waits. */
      const pageAfter = (after: string) =>
        Effect.flatMap(readPage(after), (changes) =>
          Effect.map(changes.length === 0 ? Effect.succeed(null) : prepare(changes), (planned) => ({
            changes,
            planned
          }))
        )

      let current = yield* pageAfter(checkpoint.cursor ?? "0")
      while (current.changes.length > 0) {
        if (yield* Ref.get(stop)) {
          yield* settle
          return "stopped" as const
        }
        const changes = current.changes
        // Once every earlier commit is in, no record waits: a deferred page is planned now.
        const { items, skipped, problems, conflicts } =
          current.planned ?? (yield* settle.pipe(Effect.andThen(prepare(changes))))!
        const [written, following] = yield* Effect.all(
          [
            Effect.forEach(chunks(items), writeChunk, { concurrency }).pipe(
              Effect.withSpan("SyncEngine.push", {
                attributes: {
                  provider: connection.provider,
                  "sync.entity": entityType,
                  "sync.page": checkpoint.pages,
                  "sync.records": items.length
                }
              })
            ),
            pageAfter(changes.at(-1)!.seq)
          ],
          { concurrency: 2 }
        ).pipe(
          // A run that ends here keeps what the previous page's commit did.
          Effect.onError(() => Effect.ignore(settle))
        )
        const versions = new Map(items.map((i) => [i.platformId, i]))
        const pushed: Array<Pushed> = []
        const failures: Array<string> = [...problems]
        const counts: { -readonly [K in keyof JobCounts]: number } = {
          ...noCounts,
          fetched: changes.length,
          unchanged: skipped,
          failed: problems.length
        }
        for (const o of written.flat()) {
          if (o.outcome === "failed") {
            counts.failed++
            failures.push(`${o.platformId}: ${connection.provider} refused it: ${o.reason}`)
            continue
          }
          const item = versions.get(o.platformId)
          if (item === undefined) continue
          counts[o.outcome === "archived" ? "deleted" : o.outcome]++
          pushed.push(pushedOf(o, item, pull.apply(o.raw).output))
        }
        const next: Checkpoint = { ...checkpoint, cursor: changes.at(-1)!.seq, pages: checkpoint.pages + 1 }
        yield* settle
        committing = yield* Effect.forkChild(
          outbound
            .commitPush({
              tenantId,
              connectionId: connection.id as ConnectionId,
              entityType,
              jobId: job.id,
              claim,
              mappingVersion: pull.version,
              pushed,
              counts,
              checkpoint: next
            })
            .pipe(
              Effect.andThen(
                Effect.sync(() => {
                  for (const c of changes) uncommitted.delete(c.id)
                })
              ),
              Effect.andThen(logLines(next.pages, failures, conflicts))
            )
        )
        checkpoint = next
        current = following
      }
      yield* settle
      yield* outbound.savePosition(tenantId, connection.id as ConnectionId, entityType, checkpoint.cursor ?? "0", full)
      return "completed" as const
    })

    return { run }
  })
}) {
  static readonly layer = Layer.effect(this, this.make)
}

const pushedOf = (
  outcome: Extract<WriteOutcome, { readonly externalId: string }>,
  item: OutboundItem,
  data: Record<string, unknown>
): Pushed => ({
  platformId: item.platformId,
  version: item.version,
  externalId: outcome.externalId,
  raw: outcome.raw,
  data,
  archived: outcome.outcome === "archived",
  pushedHash: item.fields === null ? "deleted" : fieldsHash(item.fields)
})
