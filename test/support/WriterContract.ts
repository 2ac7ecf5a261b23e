import { assert } from "@effect/vitest"
import { Effect } from "effect"
import type { Page, PageRequest, ProviderCallFailed, ProviderDataAdapter } from "../../ports/sync/ProviderData.ts"
import type { ExternalLink, WriteOutcome } from "../../ports/sync/ProviderWrites.ts"

// What the provider writers' contract suites (test/contract/*Writes.test.ts) share.

let keys = 0
/** A push's key: 32 hex characters, as the engine derives them from (connection, entity, record, version). */
export const newKey = () => (++keys).toString(16).padStart(32, "0")

/** A writer's look-up of platform records where the test gives none (only Mailchimp's orders look any up). */
export const noRecords = () => Effect.succeed(new Map<string, Record<string, unknown>>())

/** A write's outcomes by the platform id each answers for. */
export const byPlatformId = (outcomes: ReadonlyArray<WriteOutcome>) => new Map(outcomes.map((o) => [o.platformId, o]))

/** The link a written outcome gives its record: what the engine stores and hands the next push. */
export const linkOf = (outcome: WriteOutcome | undefined): ExternalLink => {
  if (outcome === undefined || outcome.outcome === "failed") return assert.fail(`no link: ${JSON.stringify(outcome)}`)
  return { externalId: outcome.externalId, raw: outcome.raw }
}

/** The provider call's failure (the test fails if it succeeded). */
export const failureOf = <A>(effect: Effect.Effect<A, ProviderCallFailed>) =>
  Effect.map(Effect.flip(effect), (error) => {
    assert.strictEqual(error._tag, "ProviderCallFailed")
    return error
  })

/** Every record of one whole read pass of the reader, page after page: what a later inbound pass sees. */
export const readPass = (data: ProviderDataAdapter, request: Omit<PageRequest, "cursor">) =>
  Effect.gen(function* () {
    const pages: Array<Page> = []
    let cursor: string | null = null
    do {
      const page: Page = yield* data.page({ ...request, cursor })
      pages.push(page)
      cursor = page.nextCursor
    } while (cursor !== null)
    return pages.flatMap((p) => p.records)
  })
