import { randomUUID } from "node:crypto"
import { Cause, Clock, Context, Duration, Effect, Exit, Layer, Predicate, Schedule } from "effect"
import { PersistedQueue, Redis } from "effect/persistence"
import { type DeadLetter, QueueDeadLetters } from "../../ports/QueueDeadLetters.ts"

export interface RedisStreamsQueueStoreOptions {
  /** Key prefix, e.g. "queue:"; every key of the store starts with it. */
  readonly prefix: string
  readonly consumerGroup: string
  /** Unique per worker process; a random one by default. */
  readonly consumerName?: string | undefined
  /** Longest XREADGROUP BLOCK, also the poll interval for due retries and delayed offers (default 1000). */
  readonly blockMillis?: number | undefined
  /** A claim idle this long belongs to a dead consumer and is taken over (default 60000). */
  readonly claimIdleMillis?: number | undefined
}

// Keys of one queue. `ids` is a sorted set used as a SET NX: +inf while the
// element is live or dead-lettered, the completion time once done, so cleanup
// can trim completed de-duplication records by age.
const keysFor = (prefix: string, name: string) => ({
  stream: `${prefix}${name}`,
  ids: `${prefix}${name}:ids`,
  attempts: `${prefix}${name}:attempts`,
  delayed: `${prefix}${name}:delayed`,
  delayedElements: `${prefix}${name}:delayed:elements`,
  dead: `${prefix}${name}:dead`,
  deadIndex: `${prefix}${name}:dead:index`
})

const ownedLua = `
local function owned(stream, group, consumer, entry)
  return #redis.call("XPENDING", stream, group, entry, entry, 1, consumer) > 0
end
local function settle(stream, group, entry)
  redis.call("XACK", stream, group, entry)
  redis.call("XDEL", stream, entry)
end
`

// Appends an element to the stream, or parks it in the delayed set until `due` (nil: now).
const enqueueLua = `
local function enqueue(stream, delayed, delayedElements, id, element, due)
  if due == nil then
    redis.call("XADD", stream, "*", "id", id, "element", element)
  else
    redis.call("ZADD", delayed, due, id)
    redis.call("HSET", delayedElements, id, element)
  end
end
`

const offerScript = Redis.script(
  (
    ...args: [
      registry: string,
      stream: string,
      ids: string,
      delayed: string,
      delayedElements: string,
      name: string,
      id: string,
      element: string,
      dedupe: "1" | "0",
      dueAt: string
    ]
  ) => args,
  {
    numberOfKeys: 5,
    lua: `${enqueueLua}
redis.call("SADD", KEYS[1], ARGV[1])
if ARGV[4] == "1" and redis.call("ZADD", KEYS[3], "NX", "+inf", ARGV[2]) == 0 then
  return 0
end
enqueue(KEYS[2], KEYS[4], KEYS[5], ARGV[2], ARGV[3], ARGV[5] ~= "" and ARGV[5] or nil)
return 1
`
  }
).withReturnType<number>()

// The immediate offers of one queue made in the same event-loop turn, in one round trip: ARGV is the queue name,
// then (id, element, dedupe) per offer, each applied exactly as `offerScript` would (SET NX de-duplication, XADD).
const offerBatchScript = Redis.script(
  (...args: [registry: string, stream: string, ids: string, ...rest: Array<string>]) => args,
  {
    numberOfKeys: 3,
    lua: `
redis.call("SADD", KEYS[1], ARGV[1])
for i = 2, #ARGV, 3 do
  if ARGV[i + 2] ~= "1" or redis.call("ZADD", KEYS[3], "NX", "+inf", ARGV[i]) == 1 then
    redis.call("XADD", KEYS[2], "*", "id", ARGV[i], "element", ARGV[i + 1])
  end
end
return 1
`
  }
).withReturnType<number>()

// Moves due retries and delayed offers into the stream (which wakes blocked
// readers) and returns the next due time, if any.
const promoteScript = Redis.script(
  (...args: [stream: string, delayed: string, delayedElements: string, now: number]) => args,
  {
    numberOfKeys: 3,
    lua: `
local due = redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", ARGV[1], "LIMIT", 0, 100)
for _, id in ipairs(due) do
  local element = redis.call("HGET", KEYS[3], id)
  if element then
    redis.call("XADD", KEYS[1], "*", "id", id, "element", element)
  end
  redis.call("HDEL", KEYS[3], id)
  redis.call("ZREM", KEYS[2], id)
end
local next = redis.call("ZRANGE", KEYS[2], 0, 0, "WITHSCORES")
if #next == 0 then
  return false
end
return next[2]
`
  }
).withReturnType<string | null>()

// Every settlement is fenced on the claim: only the consumer that holds the
// entry in the group's pending list may settle it, so a handler whose claim
// was taken over cannot undo the new owner's work.
const completeScript = Redis.script(
  (
    ...args: [
      stream: string,
      attempts: string,
      ids: string,
      group: string,
      consumer: string,
      entry: string,
      id: string,
      now: number
    ]
  ) => args,
  {
    numberOfKeys: 3,
    lua: `${ownedLua}
if not owned(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) then return 0 end
settle(KEYS[1], ARGV[1], ARGV[3])
redis.call("HDEL", KEYS[2], ARGV[4])
redis.call("ZADD", KEYS[3], "XX", ARGV[5], ARGV[4])
return 1
`
  }
).withReturnType<number>()

const retryScript = Redis.script(
  (
    ...args: [
      stream: string,
      delayed: string,
      delayedElements: string,
      group: string,
      consumer: string,
      entry: string,
      id: string,
      element: string,
      dueAt: number,
      now: number
    ]
  ) => args,
  {
    numberOfKeys: 3,
    lua: `${ownedLua}${enqueueLua}
if not owned(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) then return 0 end
settle(KEYS[1], ARGV[1], ARGV[3])
enqueue(KEYS[1], KEYS[2], KEYS[3], ARGV[4], ARGV[5], tonumber(ARGV[6]) > tonumber(ARGV[7]) and ARGV[6] or nil)
return 1
`
  }
).withReturnType<number>()

const deadScript = Redis.script(
  (
    ...args: [
      stream: string,
      attempts: string,
      ids: string,
      dead: string,
      deadIndex: string,
      group: string,
      consumer: string,
      entry: string,
      id: string,
      element: string,
      attemptCount: number,
      reason: string,
      failedAt: number
    ]
  ) => args,
  {
    numberOfKeys: 5,
    lua: `${ownedLua}
if not owned(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) then return 0 end
settle(KEYS[1], ARGV[1], ARGV[3])
redis.call("HDEL", KEYS[2], ARGV[4])
-- dead letters keep their de-duplication record until failedTimeToLive
redis.call("ZADD", KEYS[3], "XX", "+inf", ARGV[4])
local old = redis.call("HGET", KEYS[5], ARGV[4])
if old then redis.call("XDEL", KEYS[4], old) end
local deadEntry = redis.call("XADD", KEYS[4], "*", "id", ARGV[4], "element", ARGV[5],
  "attempts", ARGV[6], "reason", ARGV[7], "failedAt", ARGV[8])
redis.call("HSET", KEYS[5], ARGV[4], deadEntry)
return 1
`
  }
).withReturnType<number>()

// Interruption: back on the stream, and the attempt does not count.
const releaseScript = Redis.script(
  (
    ...args: [
      stream: string,
      attempts: string,
      group: string,
      consumer: string,
      entry: string,
      id: string,
      element: string
    ]
  ) => args,
  {
    numberOfKeys: 2,
    lua: `${ownedLua}
if not owned(KEYS[1], ARGV[1], ARGV[2], ARGV[3]) then return 0 end
settle(KEYS[1], ARGV[1], ARGV[3])
redis.call("XADD", KEYS[1], "*", "id", ARGV[4], "element", ARGV[5])
if redis.call("HINCRBY", KEYS[2], ARGV[4], -1) <= 0 then
  redis.call("HDEL", KEYS[2], ARGV[4])
end
return 1
`
  }
).withReturnType<number>()

// XCLAIM … JUSTID resets the idle time without counting a delivery; only
// entries this consumer still owns are touched.
const refreshScript = Redis.script(
  (stream: string, group: string, consumer: string, entries: ReadonlyArray<string>) => [
    stream,
    group,
    consumer,
    ...entries
  ],
  {
    numberOfKeys: 1,
    lua: `${ownedLua}
for i = 3, #ARGV do
  if owned(KEYS[1], ARGV[1], ARGV[2], ARGV[i]) then
    redis.call("XCLAIM", KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], "JUSTID")
  end
end
`
  }
)

const fieldLua = `
local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
end
local function requeue(stream, dead, deadIndex, attempts, deadEntry, fields)
  local id = field(fields, "id")
  redis.call("XADD", stream, "*", "id", id, "element", field(fields, "element"))
  redis.call("XDEL", dead, deadEntry)
  redis.call("HDEL", deadIndex, id)
  redis.call("HDEL", attempts, id)
end
`

const requeueDeadScript = Redis.script(
  (...args: [stream: string, dead: string, deadIndex: string, attempts: string, id: string]) => args,
  {
    numberOfKeys: 4,
    lua: `${fieldLua}
local deadEntry = redis.call("HGET", KEYS[3], ARGV[1])
if not deadEntry then return 0 end
local found = redis.call("XRANGE", KEYS[2], deadEntry, deadEntry)
if #found == 0 then
  redis.call("HDEL", KEYS[3], ARGV[1])
  return 0
end
requeue(KEYS[1], KEYS[2], KEYS[3], KEYS[4], deadEntry, found[1][2])
return 1
`
  }
).withReturnType<number>()

const requeueDeadBatch = 100

const requeueDeadBatchScript = Redis.script(
  (...args: [stream: string, dead: string, deadIndex: string, attempts: string]) => args,
  {
    numberOfKeys: 4,
    lua: `${fieldLua}
local found = redis.call("XRANGE", KEYS[2], "-", "+", "COUNT", ${requeueDeadBatch})
for _, entry in ipairs(found) do
  requeue(KEYS[1], KEYS[2], KEYS[3], KEYS[4], entry[1], entry[2])
end
return #found
`
  }
).withReturnType<number>()

const trimDeadBatch = 1000

// Dead-letter stream ids start with the time they were written.
const trimDeadScript = Redis.script((...args: [dead: string, deadIndex: string, ids: string, cutoff: number]) => args, {
  numberOfKeys: 3,
  lua: `${fieldLua}
local found = redis.call("XRANGE", KEYS[1], "-", ARGV[1], "COUNT", ${trimDeadBatch})
for _, entry in ipairs(found) do
  local id = field(entry[2], "id")
  if id and redis.call("HGET", KEYS[2], id) == entry[1] then
    redis.call("HDEL", KEYS[2], id)
    redis.call("ZREM", KEYS[3], id)
  end
  redis.call("XDEL", KEYS[1], entry[1])
end
return #found
`
}).withReturnType<number>()

// Consumer names are per process, so the group collects the names of stopped
// workers; those idle past the threshold with nothing pending are removed
// (atomically: a consumer that still holds entries is never dropped).
const pruneConsumersScript = Redis.script((...args: [stream: string, group: string, idleMillis: number]) => args, {
  numberOfKeys: 1,
  lua: `
local ok, consumers = pcall(redis.call, "XINFO", "CONSUMERS", KEYS[1], ARGV[1])
if not ok then return 0 end
local removed = 0
for _, consumer in ipairs(consumers) do
  local info = {}
  for i = 1, #consumer, 2 do info[consumer[i]] = consumer[i + 1] end
  if tonumber(info["pending"]) == 0 and tonumber(info["idle"]) > tonumber(ARGV[2]) then
    redis.call("XGROUP", "DELCONSUMER", KEYS[1], ARGV[1], info["name"])
    removed = removed + 1
  end
end
return removed
`
}).withReturnType<number>()

type Fields = Record<string, string>

const toFields = (flat: ReadonlyArray<string> | null): Fields => {
  const fields: Fields = {}
  if (flat === null) return fields
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i] as string] = flat[i + 1] as string
  return fields
}

interface Entry {
  readonly entry: string
  readonly id: string
  readonly element: string
}

type RawEntry = readonly [entry: string, fields: ReadonlyArray<string> | null]

const toEntry = ([entry, flat]: RawEntry): Entry | undefined => {
  const fields = toFields(flat)
  return fields.id === undefined || fields.element === undefined
    ? undefined
    : { entry, id: fields.id, element: fields.element }
}

const isDeadLetterSignal = (u: unknown): u is { readonly cause: Cause.Cause<unknown> } =>
  Predicate.isTagged(u, "~effect/persistence/PersistedQueue/DeadLetter")

// The factory's signal that an element can never be decoded.
const deadLetterCause = (cause: Cause.Cause<unknown>): Cause.Cause<unknown> | undefined => {
  for (const reason of cause.reasons) {
    if (Cause.isFailReason(reason) && isDeadLetterSignal(reason.error)) return reason.error.cause
  }
  return undefined
}

const hasText = (error: Redis.RedisError, text: string) => String(error.cause).includes(text)

const queueError = (message: string) => (error: Redis.RedisError) =>
  new PersistedQueue.PersistedQueueError({ message, cause: error.cause })

const make = Effect.fnUntraced(function* (options: RedisStreamsQueueStoreOptions) {
  const redis = yield* Redis.Redis
  const clock = yield* Clock.Clock
  const now = () => clock.currentTimeMillisUnsafe()
  const { prefix, consumerGroup: group } = options
  const consumer = options.consumerName ?? `consumer-${randomUUID()}`
  const blockMillis = Math.max(1, Math.round(options.blockMillis ?? 1_000))
  const claimIdleMillis = Math.max(1, Math.round(options.claimIdleMillis ?? 60_000))
  const refreshMillis = Math.max(1, Math.floor(claimIdleMillis / 3))
  const autoclaimEveryMillis = Math.max(blockMillis, Math.floor(claimIdleMillis / 4))
  const consumerIdleMillis = Math.max(claimIdleMillis, 10 * blockMillis)
  const registry = `${prefix}queues`
  const keys = (name: string) => keysFor(prefix, name)

  const offer = redis.eval(offerScript)
  const offerBatch = redis.eval(offerBatchScript)
  const promote = redis.eval(promoteScript)
  const complete = redis.eval(completeScript)
  const retry = redis.eval(retryScript)
  const dead = redis.eval(deadScript)
  const release = redis.eval(releaseScript)
  const refresh = redis.eval(refreshScript)
  const requeueDead = redis.eval(requeueDeadScript)
  const requeueDeadAll = redis.eval(requeueDeadBatchScript)
  const trimDead = redis.eval(trimDeadScript)
  const pruneConsumers = redis.eval(pruneConsumersScript)

  // Per queue, in this process: whether the group is known to exist, where
  // XAUTOCLAIM resumes, and the entries whose handlers are running here.
  const queues = new Map<
    string,
    { groupReady: boolean; cursor: string; nextAutoclaimAt: number; readonly active: Set<string> }
  >()
  const stateOf = (name: string) => {
    let state = queues.get(name)
    if (state === undefined) {
      state = { groupReady: false, cursor: "0-0", nextAutoclaimAt: 0, active: new Set() }
      queues.set(name, state)
    }
    return state
  }

  const ensureGroup = (name: string) =>
    Effect.suspend(() => {
      const state = stateOf(name)
      if (state.groupReady) return Effect.void
      return redis.send("XGROUP", "CREATE", keys(name).stream, group, "0", "MKSTREAM").pipe(
        Effect.catchIf(
          (error) => hasText(error, "BUSYGROUP"),
          () => Effect.void
        ),
        Effect.andThen(redis.send("SADD", registry, name)),
        Effect.tap(() =>
          Effect.sync(() => {
            state.groupReady = true
          })
        )
      )
    })

  yield* Effect.gen(function* () {
    for (const [name, state] of queues) {
      if (state.active.size > 0) {
        yield* refresh(keys(name).stream, group, consumer, [...state.active]).pipe(
          Effect.catch((error) => Effect.logWarning("Failed to refresh queue claims", error.cause))
        )
      }
    }
  }).pipe(Effect.repeat(Schedule.spaced(refreshMillis)), Effect.interruptible, Effect.forkScoped)

  const autoclaim = (name: string) =>
    Effect.gen(function* () {
      const state = stateOf(name)
      const at = now()
      if (at < state.nextAutoclaimAt) return undefined
      state.nextAutoclaimAt = at + autoclaimEveryMillis
      const [cursor, claimed] = yield* redis.send<[string, ReadonlyArray<RawEntry>]>(
        "XAUTOCLAIM",
        keys(name).stream,
        group,
        consumer,
        String(claimIdleMillis),
        state.cursor,
        "COUNT",
        "1"
      )
      state.cursor = cursor
      if (cursor !== "0-0") state.nextAutoclaimAt = 0
      for (const raw of claimed) {
        const entry = toEntry(raw)
        if (entry !== undefined && !state.active.has(entry.entry)) return entry
      }
      return undefined
    })

  const read = (name: string, blockFor: number) =>
    Effect.scoped(
      Effect.flatMap(redis.reserve, (connection) =>
        connection.send<ReadonlyArray<readonly [string, ReadonlyArray<RawEntry>]> | null>(
          "XREADGROUP",
          "GROUP",
          group,
          consumer,
          "COUNT",
          "1",
          "BLOCK",
          String(blockFor),
          "STREAMS",
          keys(name).stream,
          ">"
        )
      )
    ).pipe(
      Effect.map((reply) => {
        const raw = reply?.[0]?.[1]?.[0]
        return raw === undefined ? undefined : toEntry(raw)
      })
    )

  // Waits for the next entry: a dead consumer's stale claim first, then new ones.
  const nextEntry = (name: string): Effect.Effect<Entry> =>
    Effect.gen(function* () {
      const k = keys(name)
      while (true) {
        yield* ensureGroup(name)
        const at = now()
        const nextDue = yield* promote(k.stream, k.delayed, k.delayedElements, at)
        const stale = yield* autoclaim(name)
        if (stale !== undefined) return stale
        const untilDue = nextDue === null ? blockMillis : Math.ceil(Number(nextDue) - at)
        const entry = yield* read(name, Math.min(blockMillis, Math.max(1, untilDue)))
        if (entry !== undefined) return entry
      }
    }).pipe(
      Effect.tapError((error) =>
        hasText(error, "NOGROUP")
          ? Effect.sync(() => {
              stateOf(name).groupReady = false
            })
          : Effect.logWarning("Redis queue read failed; retrying", error.cause)
      ),
      Effect.retry(Schedule.spaced("200 millis")),
      Effect.orDie
    )

  // Settlements retry while the claim could still be ours, then die like the
  // built-in stores: a lost settlement is redelivered after the claim times out.
  const ack = (name: string, entry: Entry, effect: Effect.Effect<unknown, Redis.RedisError>) =>
    effect.pipe(
      Effect.retry(
        Schedule.min([Schedule.exponential("50 millis"), Schedule.spaced("1 second")]).pipe(
          Schedule.upTo({ duration: Duration.millis(claimIdleMillis) })
        )
      ),
      Effect.orDie,
      Effect.ensuring(
        Effect.sync(() => {
          stateOf(name).active.delete(entry.entry)
        })
      ),
      Effect.asVoid
    )

  const deadLetter = (name: string, entry: Entry, attempts: number, reason: string) => {
    const k = keys(name)
    return dead(
      k.stream,
      k.attempts,
      k.ids,
      k.dead,
      k.deadIndex,
      group,
      consumer,
      entry.entry,
      entry.id,
      entry.element,
      attempts,
      reason,
      now()
    )
  }

  const take: PersistedQueue.PersistedQueueStore["Service"]["take"] = (takeOptions) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const { name, maxAttempts } = takeOptions
        const k = keys(name)
        const state = stateOf(name)
        while (true) {
          const entry = yield* restore(nextEntry(name))
          const attempts = yield* redis
            .send<number>("HINCRBY", k.attempts, entry.id, "1")
            .pipe(Effect.mapError(queueError("Failed to claim persisted queue element")))
          state.active.add(entry.entry)
          let element: unknown
          try {
            element = JSON.parse(entry.element)
          } catch (defect) {
            yield* ack(name, entry, deadLetter(name, entry, attempts, Cause.pretty(Cause.die(defect))))
            continue
          }
          if (attempts > maxAttempts) {
            // its consumer died during the final attempt
            yield* ack(name, entry, deadLetter(name, entry, attempts - 1, "Claim expired after the final attempt"))
            continue
          }
          yield* Effect.addFinalizer((exit) =>
            Effect.suspend(() => {
              if (exit._tag === "Success") {
                return ack(
                  name,
                  entry,
                  complete(k.stream, k.attempts, k.ids, group, consumer, entry.entry, entry.id, now())
                )
              }
              const undecodable = deadLetterCause(exit.cause)
              if (undecodable !== undefined) {
                return ack(name, entry, deadLetter(name, entry, attempts, Cause.pretty(undecodable)))
              }
              if (Cause.hasInterruptsOnly(exit.cause)) {
                return ack(
                  name,
                  entry,
                  release(k.stream, k.attempts, group, consumer, entry.entry, entry.id, entry.element)
                )
              }
              if (attempts >= maxAttempts) {
                return ack(name, entry, deadLetter(name, entry, attempts, Cause.pretty(exit.cause)))
              }
              return Effect.flatMap(takeOptions.retryDelay(attempts), (delay) => {
                const at = now()
                return ack(
                  name,
                  entry,
                  retry(
                    k.stream,
                    k.delayed,
                    k.delayedElements,
                    group,
                    consumer,
                    entry.entry,
                    entry.id,
                    entry.element,
                    at + Duration.toMillis(delay),
                    at
                  )
                )
              })
            })
          )
          return { id: entry.id, attempts, element }
        }
      })
    )

  const forEachQueue = <A>(f: (name: string) => Effect.Effect<A, Redis.RedisError>) =>
    Effect.flatMap(redis.send<ReadonlyArray<string>>("SMEMBERS", registry), (names) =>
      Effect.forEach(names, f, { concurrency: 8, discard: true })
    )

  // Immediate offers wait for the end of the current turn and go out together (one EVALSHA per queue), so a burst of
  // webhooks committed together costs one round trip; each caller still resumes only once Redis answered.
  const runFork = Effect.runForkWith(yield* Effect.context<never>())
  type Waiter = (result: Effect.Effect<void, Redis.RedisError>) => void
  const batches = new Map<string, { readonly args: Array<string>; readonly waiters: Array<Waiter> }>()
  const flush = (name: string) => {
    const batch = batches.get(name)
    if (batch === undefined) return
    batches.delete(name)
    const k = keys(name)
    runFork(offerBatch(registry, k.stream, k.ids, name, ...batch.args)).addObserver((exit) => {
      const result = Exit.isSuccess(exit) ? Effect.void : Effect.failCause(exit.cause)
      for (const resume of batch.waiters) resume(result)
    })
  }
  const offerSoon = (name: string, id: string, element: string, dedupe: boolean) =>
    Effect.callback<void, Redis.RedisError>((resume) => {
      let batch = batches.get(name)
      if (batch === undefined) {
        batch = { args: [], waiters: [] }
        batches.set(name, batch)
        setImmediate(flush, name)
      }
      batch.args.push(id, element, dedupe ? "1" : "0")
      batch.waiters.push(resume)
    })

  const store = PersistedQueue.PersistedQueueStore.of({
    offer: ({ delay, element, id, isCustomId, name }) => {
      if (delay === undefined) {
        return offerSoon(name, id, JSON.stringify(element), isCustomId).pipe(
          Effect.mapError(queueError("Failed to offer element to persisted queue"))
        )
      }
      const k = keys(name)
      return Effect.suspend(() =>
        offer(
          registry,
          k.stream,
          k.ids,
          k.delayed,
          k.delayedElements,
          name,
          id,
          JSON.stringify(element),
          isCustomId ? "1" : "0",
          delay === undefined ? "" : String(now() + Duration.toMillis(delay))
        )
      ).pipe(Effect.asVoid, Effect.mapError(queueError("Failed to offer element to persisted queue")))
    },
    take,
    cleanup: ({ failedTimeToLive, timeToLive }) =>
      forEachQueue((name) =>
        Effect.gen(function* () {
          const k = keys(name)
          const at = now()
          yield* redis.send("ZREMRANGEBYSCORE", k.ids, "-inf", `(${at - Duration.toMillis(timeToLive)}`)
          yield* pruneConsumers(k.stream, group, consumerIdleMillis)
          if (failedTimeToLive !== undefined) {
            const cutoff = at - Duration.toMillis(failedTimeToLive)
            yield* trimDead(k.dead, k.deadIndex, k.ids, cutoff).pipe(
              Effect.repeat({ while: (removed) => removed >= trimDeadBatch })
            )
          }
        })
      ).pipe(Effect.mapError(queueError("Failed to clean up persisted queue")))
  })

  const deadLetters = QueueDeadLetters.of({
    list: (name, listOptions) =>
      redis
        .send<ReadonlyArray<RawEntry>>(
          "XREVRANGE",
          keys(name).dead,
          "+",
          "-",
          "COUNT",
          String(Math.max(1, listOptions?.limit ?? 100))
        )
        .pipe(
          Effect.map((entries) =>
            entries.map(([, flat]): DeadLetter => {
              const fields = toFields(flat)
              return {
                id: fields.id ?? "",
                element: JSON.parse(fields.element ?? "null"),
                attempts: Number(fields.attempts ?? 0),
                reason: fields.reason ?? "",
                failedAt: new Date(Number(fields.failedAt ?? 0))
              }
            })
          ),
          Effect.mapError(queueError("Failed to list dead letters"))
        ),
    retry: (name, id) => {
      const k = keys(name)
      return requeueDead(k.stream, k.dead, k.deadIndex, k.attempts, id).pipe(
        Effect.map((n) => n === 1),
        Effect.mapError(queueError("Failed to re-queue dead letter"))
      )
    },
    retryAll: (name) => {
      const k = keys(name)
      let total = 0
      return requeueDeadAll(k.stream, k.dead, k.deadIndex, k.attempts).pipe(
        Effect.tap((n) =>
          Effect.sync(() => {
            total += n
          })
        ),
        Effect.repeat({ while: (n) => n >= requeueDeadBatch }),
        Effect.map(() => total),
        Effect.mapError(queueError("Failed to re-queue dead letters"))
      )
    }
  })

  const span = (method: string, name: string) =>
    Effect.withSpan(`RedisStreamsQueueStore.${method}`, { attributes: { "queue.name": name } })
  return Context.make(
    PersistedQueue.PersistedQueueStore,
    PersistedQueue.PersistedQueueStore.of({
      offer: (o) => store.offer(o).pipe(span("offer", o.name), Effect.annotateSpans({ "queue.message_id": o.id })),
      take: (o) => store.take(o).pipe(span("take", o.name)),
      cleanup: (o) => store.cleanup(o).pipe(Effect.withSpan("RedisStreamsQueueStore.cleanup"))
    })
  ).pipe(
    Context.add(
      QueueDeadLetters,
      QueueDeadLetters.of({
        list: (name, o) => deadLetters.list(name, o).pipe(span("listDeadLetters", name)),
        retry: (name, id) => deadLetters.retry(name, id).pipe(span("retryDeadLetter", name)),
        retryAll: (name) => deadLetters.retryAll(name).pipe(span("retryAllDeadLetters", name))
      })
    )
  )
})

/**
 * `PersistedQueueStore` on Redis Streams: one stream per queue read through a
 * consumer group, retries and delayed offers in a sorted set, dead letters in
 * `<prefix><name>:dead`, and stale claims of dead consumers taken over with
 * XAUTOCLAIM. Also provides `QueueDeadLetters` for the same keys.
 * Needs `Redis.Redis` (see `IoRedis`) with at least as many reserved
 * connections as concurrent takers.
 */
const layer = (
  options: RedisStreamsQueueStoreOptions
): Layer.Layer<PersistedQueue.PersistedQueueStore | QueueDeadLetters, never, Redis.Redis> =>
  Layer.effectContext(make(options))

export const RedisStreamsQueueStore = { layer, keysFor } as const
