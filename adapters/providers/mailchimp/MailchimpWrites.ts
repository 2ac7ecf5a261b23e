import { createHash } from "node:crypto"
import { Config, Duration, Effect } from "effect"
import type { EntityType } from "../../../domain/canonical/EntityType.ts"
import { ProviderCallFailed, type ProviderFailureKind } from "../../../ports/sync/ProviderData.ts"
import type {
  ExternalLink,
  OutboundItem,
  ProviderWriter,
  WriteOutcome,
  WriteRequest
} from "../../../ports/sync/ProviderWrites.ts"
import { readBatchResults } from "./MailchimpBatchResults.ts"
import { MailchimpClientConfig, type MarketingClient, mailchimpClient } from "./MailchimpClient.ts"
import { problemReason } from "./MailchimpDataFailure.ts"
import { mailchimpOrderWrites } from "./MailchimpOrderWrites.ts"

/** Above this many items one write goes through `POST /batches`; up to it, a call per member costs fewer calls. */
export const batchThreshold = 50
/** Items per write: one batch (Mailchimp sets no operation count per batch; 5,000 PUTs are about 2.5 MB). */
const batchLimit = 5000
/** Orders per write: each is its own call (five at once), so a write is a few seconds' work. */
const ordersPerWrite = 100
/** Members written at once outside a batch: half of Mailchimp's 10 connections per key, the rest for reads. */
const concurrency = 5
/** The longest wait between two polls of a batch, however long it runs. */
const maxPollInterval = Duration.seconds(30)

export interface MailchimpWritesConfig {
  readonly client: MailchimpClientConfig
  /** The first wait before polling a batch; each next wait doubles, up to 30 s. */
  readonly pollInterval: Duration.Input
  /** A batch not finished by then fails the write (unavailable): the engine runs it again, the PUTs are upserts. */
  readonly batchTimeout: Duration.Input
}

export const MailchimpWritesConfig = Config.all({
  client: MailchimpClientConfig,
  pollInterval: Config.Duration("MAILCHIMP_BATCH_POLL_INTERVAL").pipe(Config.withDefault(Duration.seconds(2))),
  batchTimeout: Config.Duration("MAILCHIMP_BATCH_TIMEOUT").pipe(Config.withDefault(Duration.minutes(30)))
})

/** Mailchimp's member id: the MD5 of the lower-case address. */
export const subscriberHash = (email: string) => createHash("md5").update(email.toLowerCase()).digest("hex")

const callFailed = (kind: ProviderFailureKind, message: string) =>
  new ProviderCallFailed({ provider: "mailchimp", kind, status: null, retryAfterMillis: null, message })

/** What one item asks of Mailchimp. */
interface Planned {
  readonly item: OutboundItem
  readonly method: "PUT" | "PATCH" | "DELETE"
  readonly listId: string
  /** The member the request names: the new address's hash for a PUT, the linked member's for PATCH and DELETE. */
  readonly hash: string
  readonly body: Record<string, unknown> | null
  /** A PUT's outcome: `created` unless it upserts the member the link names. */
  readonly creates: boolean
  /** A PATCH of a vanished member becomes this PUT of the new address (the member is created again). */
  readonly fallback: Record<string, unknown> | null
}

/** An item's request, or why it makes none. */
type Plan = Planned | { readonly item: OutboundItem; readonly failed: string }

const stringOf = (value: unknown) => (typeof value === "string" && value !== "" ? value : null)

/**
 * The PUT body from the mapping's fields: top-level nulls left out (Mailchimp's schema takes no null), a merge field's
 * null sent as "" (Mailchimp's empty merge value).
 */
const bodyOf = (fields: Record<string, unknown>): Record<string, unknown> => {
  const body: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(fields)) {
    if (value === null || value === undefined) continue
    body[key] =
      key === "merge_fields" && typeof value === "object"
        ? Object.fromEntries(Object.entries(value).map(([tag, v]) => [tag, v ?? ""]))
        : value
  }
  return body
}

const memberOf = (answer: unknown, hash: string) => {
  const raw = typeof answer === "object" && answer !== null ? (answer as Record<string, unknown>) : {}
  return { raw, externalId: stringOf(raw.id) ?? hash }
}

/**
 * An item's request. A deletion archives the linked member (`DELETE …/members/{hash}` archives; it never deletes for
 * good); one without a link is a caller's mistake (the engine sends none) and fails. An upsert is `PUT
 * …/members/{md5(address)}` with the mapping's `status_if_new`, which Mailchimp applies to a new member only: consent
 * of an existing one stays Mailchimp's. An address change: Mailchimp names members by address, so a PUT of the new one
 * would add a second member and leave the old one subscribed; instead the linked member is PATCHed with the new
 * `email_address` — the same member (history, stats, `unique_email_id`), whose id becomes the new address's hash
 * (the outcome's externalId). A new address that is already another member is Mailchimp's refusal (Member Exists):
 * merging two people is not a sync's decision. A link into another audience than the connection's (the venue chose a
 * new one) is not that audience's member: the PUT creates it there.
 */
const planOf = (item: OutboundItem, listId: string): Plan => {
  const link: ExternalLink | null = item.link
  const linkedList = link === null ? null : (stringOf(link.raw.list_id) ?? listId)
  if (item.deleted) {
    if (link === null) return { item, failed: "a deletion of a record never pushed to Mailchimp: nothing to archive" }
    return {
      item,
      method: "DELETE",
      listId: linkedList ?? listId,
      hash: link.externalId,
      body: null,
      creates: false,
      fallback: null
    }
  }
  const fields = item.fields
  const email = fields === null ? null : stringOf(fields.email_address)
  if (fields === null || email === null) return { item, failed: "the mapping gave the member no email_address" }
  const body = bodyOf(fields)
  const hash = subscriberHash(email)
  const sameList = link !== null && linkedList === listId
  const oldEmail = link === null ? null : stringOf(link.raw.email_address)
  if (sameList && link !== null && oldEmail !== null && oldEmail.toLowerCase() !== email.toLowerCase()) {
    const { status_if_new: _, ...patch } = body
    return { item, method: "PATCH", listId, hash: link.externalId, body: patch, creates: false, fallback: body }
  }
  return { item, method: "PUT", listId, hash, body, creates: !sameList, fallback: null }
}

/** A re-addressed member that has vanished: created again at its new address (a PUT with `status_if_new`). */
const recreation = (plan: Planned): Planned => {
  const body = plan.fallback ?? {}
  return {
    ...plan,
    method: "PUT",
    hash: subscriberHash(String(body.email_address)),
    body,
    creates: true,
    fallback: null
  }
}

/** The address a plan leaves its member at: two items of one write must not name the same member. */
const targetOf = (plan: Plan) =>
  "failed" in plan || plan.method === "DELETE" ? null : subscriberHash(String(plan.body?.email_address ?? ""))

const pathOf = (listId: string, hash: string) => `/lists/${listId}/members/${hash}`

const outcomeOf = (plan: Planned, answer: unknown, created: boolean): WriteOutcome => {
  if (plan.method === "DELETE")
    return {
      platformId: plan.item.platformId,
      outcome: "archived",
      externalId: plan.hash,
      // DELETE answers 204 without a body; a later read shows the member as it was, archived.
      raw: { ...plan.item.link?.raw, status: "archived" }
    }
  const { raw, externalId } = memberOf(answer, plan.hash)
  return { platformId: plan.item.platformId, outcome: created ? "created" : "updated", externalId, raw }
}

const failedOutcome = (item: OutboundItem, reason: string): WriteOutcome => ({
  platformId: item.platformId,
  outcome: "failed",
  reason
})

/** A refusal of this one member; anything else (429, 5xx, 401, 403, a vanished audience) stops the write. */
const isRefusal = (error: unknown): error is ProviderCallFailed =>
  error instanceof ProviderCallFailed && error.kind === "rejected"
const isNotFound = (error: unknown): error is ProviderCallFailed =>
  error instanceof ProviderCallFailed && error.kind === "not_found"

const parsed = (response: string): unknown => {
  if (response.trim() === "") return null
  try {
    return JSON.parse(response)
  } catch {
    return null
  }
}

/**
 * Mailchimp contacts out: members of the connection's audience (its chosen one, else the account's oldest), through
 * the marketing SDK. Up to 50 items a call per member (5 at once); above, one `POST /batches` with every operation
 * (`operation_id` = the item's idempotency key), `GET /batches/{id}` until `finished` (waits doubling from the poll
 * interval), then the results archive at `response_body_url` (a signed download, sent no token). Every call goes
 * through the request's `call`. Idempotency is Mailchimp's own: a PUT upserts the member its address names, so a write
 * run again after a crash (or a batch submitted again) finds the members it made and adds none.
 */
export const mailchimpWrites = (config: MailchimpWritesConfig): ProviderWriter => {
  const { timeoutMs, clientFor, call: sdk, oldestAudience } = mailchimpClient(config.client)
  const orders = mailchimpOrderWrites(sdk)
  const pollInterval = Duration.fromInputUnsafe(config.pollInterval)
  const batchTimeoutMs = Duration.toMillis(Duration.fromInputUnsafe(config.batchTimeout))

  /** One member, one call (two when the member to re-address has vanished). */
  const writeOne = <E>(request: WriteRequest<E>, client: MarketingClient, plan: Plan) => {
    if ("failed" in plan) return Effect.succeed(failedOutcome(plan.item, plan.failed))
    const { listId, hash, body } = plan
    const put = (target: string, putBody: Record<string, unknown>) =>
      request.call(
        "write_contact",
        sdk("PUT /lists/{id}/members/{hash}", () => client.lists.setListMember(listId, target, putBody))
      )
    const written: Effect.Effect<WriteOutcome, ProviderCallFailed | E> =
      plan.method === "DELETE"
        ? request
            .call(
              "archive_contact",
              sdk("DELETE /lists/{id}/members/{hash}", () => client.lists.deleteListMember(listId, hash))
            )
            .pipe(
              // Already gone (deleted for good, or archived and purged): what the deletion wanted holds.
              Effect.catchIf(isNotFound, () => Effect.void),
              Effect.map(() => outcomeOf(plan, null, false))
            )
        : plan.method === "PATCH"
          ? request
              .call(
                "write_contact",
                sdk("PATCH /lists/{id}/members/{hash}", () => client.lists.updateListMember(listId, hash, body ?? {}))
              )
              .pipe(
                Effect.map((answer) => outcomeOf(plan, answer, false)),
                // The linked member is gone: it is created again at its new address.
                Effect.catchIf(isNotFound, () => {
                  const again = recreation(plan)
                  return Effect.map(put(again.hash, again.body ?? {}), (answer) => outcomeOf(again, answer, true))
                })
              )
          : Effect.map(put(hash, body ?? {}), (answer) => outcomeOf(plan, answer, plan.creates))
    return written.pipe(
      Effect.catchIf(isRefusal, (refusal) => Effect.succeed(failedOutcome(plan.item, refusal.message)))
    )
  }

  /** Downloads and reads a finished batch's results (the archive is on Mailchimp's storage, not the API). */
  const results = (url: string) =>
    Effect.tryPromise({
      try: async () => {
        const answer = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
        if (!answer.ok) throw new Error(`answered ${answer.status}`)
        return readBatchResults(new Uint8Array(await answer.arrayBuffer()))
      },
      // Never the URL: its signature opens the archive.
      catch: (cause) =>
        callFailed(
          "unavailable",
          `Mailchimp's batch results could not be read (${cause instanceof Error ? cause.message : "download failed"})`
        )
    })

  /** Every plan in one batch, polled to its end; a PATCH of a vanished member is then PUT on its own. */
  const writeBatch = Effect.fnUntraced(function* <E>(
    request: WriteRequest<E>,
    client: MarketingClient,
    plans: ReadonlyArray<Plan>
  ) {
    const sent = plans.flatMap((plan) => ("failed" in plan ? [] : [plan]))
    const outcomes: Array<WriteOutcome> = plans.flatMap((plan) =>
      "failed" in plan ? [failedOutcome(plan.item, plan.failed)] : []
    )
    if (sent.length === 0) return outcomes
    const operations = sent.map((plan) => ({
      method: plan.method,
      path: pathOf(plan.listId, plan.hash),
      operation_id: plan.item.idempotencyKey,
      // Mailchimp takes each operation's body as a JSON string.
      ...(plan.body === null ? {} : { body: JSON.stringify(plan.body) })
    }))
    const started = yield* request.call(
      "batch_upsert_contact",
      sdk("POST /batches", () => client.batches.start({ operations }))
    )
    const batchId = stringOf(started.id)
    if (batchId === null) return yield* callFailed("unavailable", "Mailchimp answered POST /batches without an id")
    yield* Effect.annotateCurrentSpan({ "mailchimp.batch_id": batchId, "mailchimp.operations": operations.length })

    let status = started
    let wait = pollInterval
    let waited = 0
    while (status.status !== "finished") {
      if (waited >= batchTimeoutMs)
        return yield* callFailed(
          "unavailable",
          `Mailchimp batch ${batchId} was still ${String(status.status)} after ${Math.round(waited / 1000)} s`
        )
      yield* Effect.sleep(wait)
      waited += Duration.toMillis(wait)
      wait = Duration.min(Duration.times(wait, 2), maxPollInterval)
      status = yield* request.call(
        "read_batch_contact",
        sdk("GET /batches/{id}", () => client.batches.status(batchId))
      )
    }
    const url = stringOf(status.response_body_url)
    if (url === null)
      return yield* callFailed("unavailable", `Mailchimp batch ${batchId} finished without a response_body_url`)
    const answers = yield* request.call("read_batch_results_contact", results(url))

    const byKey = new Map(answers.map((a) => [a.operation_id, a]))
    const vanished: Array<Planned> = []
    for (const plan of sent) {
      const answer = byKey.get(plan.item.idempotencyKey)
      const path = `${plan.method} ${pathOf(plan.listId, plan.hash)}`
      if (answer === undefined) {
        outcomes.push(failedOutcome(plan.item, `Mailchimp batch ${batchId} has no result for ${path}`))
        continue
      }
      const body = parsed(answer.response)
      if (answer.status_code < 400) outcomes.push(outcomeOf(plan, body, plan.creates))
      else if (answer.status_code === 404 && plan.method === "DELETE") outcomes.push(outcomeOf(plan, null, false))
      else if (answer.status_code === 404 && plan.method === "PATCH") vanished.push(recreation(plan))
      else {
        // One operation's refusal (or its own 5xx) is that item's: the batch's other members are written.
        const reason = problemReason(typeof body === "object" ? (body as Record<string, unknown>) : null)
        outcomes.push(
          failedOutcome(
            plan.item,
            `Mailchimp ${path} answered ${answer.status_code}${reason === "" ? "" : ` ${reason}`}`
          )
        )
      }
    }
    const again = yield* Effect.forEach(vanished, (plan) => writeOne(request, client, plan), { concurrency })
    return [...outcomes, ...again]
  })

  const write = Effect.fn("MailchimpWrites.write")(function* <E>(request: WriteRequest<E>) {
    if (request.entityType !== "contact" && request.entityType !== "order")
      return yield* callFailed("rejected", `Mailchimp takes contacts and orders, not ${request.entityType}`)
    const client = clientFor(request.credential)
    if (client === undefined)
      return yield* callFailed("unauthorized", "the connection has no Mailchimp API endpoint; connect again")
    const listId = request.credential.audienceId ?? (yield* request.call("read_audiences", oldestAudience(client)))
    if (listId === null) return yield* callFailed("not_found", "the Mailchimp account has no audience to write to")
    yield* Effect.annotateCurrentSpan({ "mailchimp.list_id": listId, "sync.items": request.items.length })
    if (request.entityType === "order") return yield* orders.write(request, client, listId)

    const targets = new Set<string>()
    const plans = request.items.map((item): Plan => {
      const plan = planOf(item, listId)
      const target = targetOf(plan)
      if (target === null) return plan
      if (targets.has(target))
        return { item, failed: "another record of this push has the same email address: one Mailchimp member" }
      targets.add(target)
      return plan
    })
    return plans.length > batchThreshold
      ? yield* writeBatch(request, client, plans)
      : yield* Effect.forEach(plans, (plan) => writeOne(request, client, plan), { concurrency })
  })

  return {
    provider: "mailchimp",
    batchSize: (entityType: EntityType) => (entityType === "order" ? ordersPerWrite : batchLimit),
    write
  }
}

/** The Mailchimp writer from the reader's settings plus MAILCHIMP_BATCH_POLL_INTERVAL and MAILCHIMP_BATCH_TIMEOUT. */
export const makeMailchimpWrites: Effect.Effect<ProviderWriter, Config.ConfigError> = Effect.map(
  MailchimpWritesConfig,
  mailchimpWrites
)
