/**
 * One round of the queue benchmark for one store, in a process of its own (started by run.ts, which interleaves the
 * stores). Prints one JSON line with the figures.
 *
 * Phases, on a fresh queue under a unique key prefix (deleted afterwards):
 *  1. warm-up: `BENCH_WARMUP` messages offered and processed;
 *  2. offer: `BENCH_MESSAGES` offers, `BENCH_OFFER_CONCURRENCY` in flight, nobody consuming → messages/s, and CPU of
 *     this process per message (less sensitive than rates to other load on a shared machine);
 *  3. process: that backlog taken by `BENCH_CONCURRENCY` takers with a trivial handler → messages/s, first message
 *     handled to last, and CPU per message;
 *  4. latency, API → worker: `BENCH_RATE` offers/s for `BENCH_LATENCY_SECONDS` from a producer with its own store
 *     instance and connections (as a `ROLE=api` process), offer call → handler start, p50/p99;
 *  5. latency, one process: the same, offered through the consumer's own store instance (`ROLE=all`);
 *  6. idle: takers waiting on an empty queue for `BENCH_IDLE_SECONDS` → Redis commands/s and CPU ms/s of this process.
 *
 * Messages are shaped like the service's webhook jobs (~200 bytes) and offered with a custom id, as the service does.
 */
import { performance } from "node:perf_hooks"
import { Queue as BullQueue, Worker as BullWorker } from "bullmq"
import { Duration, Effect, Fiber, Layer, ManagedRuntime, Redacted, Schema } from "effect"
import { PersistedQueue } from "effect/persistence"
import { Redis as IORedis } from "ioredis"
import { IoRedis } from "../../adapters/redis/IoRedis.ts"

const env = process.env
const subjectName = env.BENCH_QUEUE_SUBJECT ?? "effect"
const prefix = env.BENCH_QUEUE_PREFIX ?? `bench:queue:${Date.now().toString(36)}:`
const redisUrl = env.REDIS_URL ?? "redis://127.0.0.1:6379"
const warmup = Number(env.BENCH_WARMUP ?? 500)
const messages = Number(env.BENCH_MESSAGES ?? 2_000)
const offerConcurrency = Number(env.BENCH_OFFER_CONCURRENCY ?? 50)
const concurrency = Number(env.BENCH_CONCURRENCY ?? 8)
const rate = Number(env.BENCH_RATE ?? 100)
const latencySeconds = Number(env.BENCH_LATENCY_SECONDS ?? 5)
const idleSeconds = Number(env.BENCH_IDLE_SECONDS ?? 3)
const queueName = "bench"

// Every command any ioredis client of this process sends (the IoRedis adapter and BullMQ both use ioredis).
let commands = 0
const sendCommand = IORedis.prototype.sendCommand
IORedis.prototype.sendCommand = function (this: IORedis, ...args: Parameters<typeof sendCommand>) {
  commands++
  return sendCommand.apply(this, args)
}

const Job = Schema.Struct({
  inboxId: Schema.String,
  tenantId: Schema.String,
  provider: Schema.String,
  traceParent: Schema.NullOr(Schema.String),
  sentAt: Schema.Number
})
type Job = typeof Job.Type

const tenantId = crypto.randomUUID()
const job = (): Job => ({
  inboxId: crypto.randomUUID(),
  tenantId,
  provider: "stripe",
  traceParent: `00-${crypto.randomUUID().replaceAll("-", "")}-${crypto.randomUUID().slice(0, 16)}-01`,
  sentAt: performance.now()
})

/** What every handler of every store does with a message: the current phase's trivial work. */
let onMessage: (job: Job) => void = () => {}

/** One queue as the service would use it: a producer side, a consumer side, and takers that can start and stop. */
interface Subject {
  /** Offer from another store instance with its own connections, like a `ROLE=api` process. */
  readonly offer: (id: string, job: Job) => Promise<void>
  /** Offer through the consumer's own store instance, like `ROLE=all`. */
  readonly offerLocal: (id: string, job: Job) => Promise<void>
  /** Starts `BENCH_CONCURRENCY` takers calling `onMessage` (no-op when they run). */
  readonly start: () => Promise<void>
  readonly stop: () => Promise<void>
  readonly close: () => Promise<void>
}

const effectSubject = async (
  store: () => Layer.Layer<PersistedQueue.PersistedQueueStore, unknown>
): Promise<Subject> => {
  // Separate runtimes build separate layers: separate Redis clients and store state, as separate processes have.
  const side = async () => {
    const runtime = ManagedRuntime.make(PersistedQueue.layer.pipe(Layer.provide(store())))
    const queue = await runtime.runPromise(PersistedQueue.make({ name: queueName, schema: Job }))
    return { runtime, queue }
  }
  const producer = await side()
  const consumer = await side()
  const offer =
    (s: typeof producer) =>
    (id: string, job: Job): Promise<void> =>
      s.runtime.runPromise(Effect.asVoid(s.queue.offer(job, { id })))
  let takers: Fiber.Fiber<unknown, unknown> | undefined
  return {
    offer: offer(producer),
    offerLocal: offer(consumer),
    start: async () => {
      if (takers !== undefined) return
      const taker = consumer.queue.take((job) => Effect.sync(() => onMessage(job))).pipe(Effect.forever)
      takers = consumer.runtime.runFork(
        Effect.all(
          Array.from({ length: concurrency }, () => taker),
          { concurrency: "unbounded", discard: true }
        )
      )
    },
    stop: async () => {
      if (takers !== undefined) await consumer.runtime.runPromise(Fiber.interrupt(takers))
      takers = undefined
    },
    close: async () => {
      await producer.runtime.dispose()
      await consumer.runtime.dispose()
    }
  }
}

const bullSubject = async (): Promise<Subject> => {
  const { hostname, port } = new URL(redisUrl)
  const connection = { host: hostname, port: Number(port || 6379), maxRetriesPerRequest: null }
  const bullPrefix = `${prefix}bull`
  const queue = new BullQueue(queueName, { connection, prefix: bullPrefix })
  const worker = new BullWorker(
    queueName,
    async (job) => {
      onMessage(job.data as Job)
    },
    { connection, prefix: bullPrefix, concurrency, autorun: false }
  )
  await queue.waitUntilReady()
  await worker.waitUntilReady()
  let started = false
  let running = false
  const offer = async (id: string, data: Job) => {
    // completed jobs kept for an hour so their id still de-duplicates, as the other stores keep their ids
    await queue.add("webhook", data, {
      jobId: id,
      attempts: 8,
      backoff: { type: "exponential", delay: 1_000 },
      removeOnComplete: { age: 3_600 },
      removeOnFail: false
    })
  }
  return {
    offer,
    offerLocal: offer,
    start: async () => {
      if (running) return
      running = true
      if (started) worker.resume()
      else {
        started = true
        void worker.run()
      }
    },
    stop: async () => {
      running = false
      await worker.pause()
    },
    close: async () => {
      await worker.close()
      await queue.close()
    }
  }
}

const ioRedis = () => IoRedis.layer({ url: Redacted.make(redisUrl) })

const subjects: Record<string, () => Promise<Subject>> = {
  effect: () => effectSubject(() => PersistedQueue.layerStoreRedis({ prefix }).pipe(Layer.provide(ioRedis()))),
  // as adapters/main/Webhooks.ts configures it by default
  "effect-100ms": () =>
    effectSubject(() =>
      PersistedQueue.layerStoreRedis({ prefix, pollInterval: Duration.millis(100) }).pipe(Layer.provide(ioRedis()))
    ),
  bullmq: bullSubject
}

let counter = 0
const nextId = () => `evt_${(counter++).toString(36).padStart(8, "0")}`

/** Offers `count` messages with `inFlight` outstanding at a time. */
const offerMany = async (offer: Subject["offer"], count: number, inFlight: number) => {
  let next = 0
  const lane = async () => {
    while (next < count) {
      next++
      await offer(nextId(), job())
    }
  }
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane))
}

/** Resolves once `count()` reaches `target`, or rejects after `timeoutMs`. */
const until = (count: () => number, target: number, timeoutMs: number) =>
  new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + timeoutMs
    const check = () => {
      if (count() >= target) resolve()
      else if (Date.now() > deadline) reject(new Error(`only ${count()} of ${target} messages arrived`))
      else setTimeout(check, 1)
    }
    check()
  })

/** CPU of this process (user + system) since `since`, in microseconds. */
const cpuMicros = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since)
  return used.user + used.system
}

const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN

/** Offers at a steady rate (offer call → handler start); the takers must already run. */
const latency = async (subject: Subject, offer: Subject["offer"]) => {
  const samples: Array<number> = []
  onMessage = (job) => {
    samples.push(performance.now() - job.sentAt)
  }
  await subject.start()
  const count = Math.round(rate * latencySeconds)
  const interval = 1_000 / rate
  const started = performance.now()
  const offers: Array<Promise<void>> = []
  for (let i = 0; i < count; i++) {
    const due = started + i * interval
    const wait = due - performance.now()
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
    offers.push(offer(nextId(), job()))
  }
  await Promise.all(offers)
  await until(() => samples.length, count, 30_000)
  const sorted = samples.sort((x, y) => x - y)
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), n: sorted.length }
}

const deleteKeys = async () => {
  const client = new IORedis(redisUrl)
  let cursor = "0"
  do {
    const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1_000)
    cursor = next
    if (keys.length > 0) await client.del(...keys)
  } while (cursor !== "0")
  client.disconnect()
}

const make = subjects[subjectName]
if (make === undefined) throw new Error(`BENCH_QUEUE_SUBJECT must be one of ${Object.keys(subjects).join(", ")}`)
const subject = await make()
try {
  let handled = 0
  const count = () => handled
  onMessage = () => {
    handled++
  }

  await subject.start()
  await offerMany(subject.offer, warmup, offerConcurrency)
  await until(count, warmup, 30_000)
  await subject.stop()

  handled = 0
  let t = performance.now()
  let cpu = process.cpuUsage()
  await offerMany(subject.offer, messages, offerConcurrency)
  const offerRate = messages / ((performance.now() - t) / 1_000)
  const offerCpuUs = cpuMicros(cpu) / messages

  // steady draining, first message to last: how soon a poller notices the backlog is a latency figure
  let first = 0
  onMessage = () => {
    if (handled++ === 0) first = performance.now()
  }
  cpu = process.cpuUsage()
  await subject.start()
  await until(count, messages, 120_000)
  const processRate = (messages - 1) / ((performance.now() - first) / 1_000)
  const processCpuUs = cpuMicros(cpu) / messages

  const worker = await latency(subject, subject.offer)
  const same = await latency(subject, subject.offerLocal)

  onMessage = () => {}
  await new Promise((resolve) => setTimeout(resolve, 1_000))
  cpu = process.cpuUsage()
  const sent = commands
  t = performance.now()
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1_000))
  const idleSecondsMeasured = (performance.now() - t) / 1_000
  const idleCpuMs = cpuMicros(cpu) / 1_000 / idleSecondsMeasured
  await subject.stop()

  process.stdout.write(
    `${JSON.stringify({
      subject: subjectName,
      offerRate,
      offerCpuUs,
      processRate,
      processCpuUs,
      worker,
      same,
      idleCommands: (commands - sent) / idleSecondsMeasured,
      idleCpuMs
    })}\n`
  )
} finally {
  await subject.close()
  await deleteKeys()
}
process.exit(0)
