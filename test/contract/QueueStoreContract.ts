import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert, layer } from "@effect/vitest"
import { type Context, Deferred, Duration, Effect, Fiber, Layer, Option, Schedule, Schema } from "effect"
import { Headers, HttpTraceContext } from "effect/http"
import { PersistedQueue } from "effect/persistence"
import { QueueDeadLetters } from "../../ports/QueueDeadLetters.ts"
import type { QueueWorkerConfig } from "./QueueStoreWorker.ts"

export type Consumer = PersistedQueue.PersistedQueueFactory | PersistedQueue.PersistedQueueStore

export interface QueueStoreSubject<R> {
  /**
   * A consumer of the shared backing store with its own store instance,
   * connections and identity (consumer name / lock ids), like another worker.
   * With `deadLetters`, it provides `QueueDeadLetters` too.
   */
  readonly consumer: (consumerName: string) => Layer.Layer<Consumer, never, R>
  /** Whether dead letters can be listed and re-queued (`QueueDeadLetters`); Effect's Redis store has no such API. */
  readonly deadLetters: boolean
  /** How to run the same kind of consumer in another process (QueueStoreWorker.ts). */
  readonly workerConfig: (queue: string, consumerName: string) => Effect.Effect<QueueWorkerConfig, never, R>
  /** How long a claim outlives its consumer (claim idle time / lock expiration). */
  readonly claimTimeout: Duration.Input
  /** The store's smallest delay step: SQL rounds delays up to whole seconds. */
  readonly delayStep: Duration.Input
}

const Job = Schema.Struct({ n: Schema.Number })
const Traced = Schema.Struct({ n: Schema.Number, trace: Schema.Record(Schema.String, Schema.String) })

class Boom extends Schema.TaggedError<Boom>()("Boom", { message: Schema.String }) {}

let counter = 0
const queueName = (label: string) => `${label}-${Date.now().toString(36)}-${(counter++).toString(36)}`

const build = <R>(subject: QueueStoreSubject<R>, consumerName: string) => Layer.build(subject.consumer(consumerName))

// QueueDeadLetters is only asked for when the subject says it has it
const within =
  (context: Context.Context<Consumer>) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.provideContext(effect, context) as Effect.Effect<A, E, Exclude<R, Consumer | QueueDeadLetters>>

const none = <A, E, R>(take: Effect.Effect<A, E, R>, wait: Duration.Input = "400 millis") =>
  take.pipe(
    Effect.timeoutOption(wait),
    Effect.map((taken) => assert.isTrue(Option.isNone(taken), "nothing more is delivered"))
  )

const workerPath = fileURLToPath(new URL("./QueueStoreWorker.ts", import.meta.url))

/** Starts QueueStoreWorker.ts; resolves with the `taken` line, then the scope SIGKILLs it. */
const takeInAnotherProcess = (config: QueueWorkerConfig) =>
  Effect.gen(function* () {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        spawn(process.execPath, [workerPath], {
          env: { ...process.env, QUEUE_WORKER_CONFIG: JSON.stringify(config) },
          stdio: ["ignore", "pipe", "inherit"]
        })
      ),
      (child) =>
        Effect.sync(() => {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
        })
    )
    const line = yield* Effect.callback<string>((resume) => {
      let output = ""
      child.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString()
        const match = /taken .*\n/.exec(output)
        if (match) resume(Effect.succeed(match[0].trim()))
      })
    }).pipe(Effect.timeout("20 seconds"), Effect.orDie)
    const killed = Effect.callback<void>((resume) => {
      child.once("exit", () => resume(Effect.void))
      child.kill("SIGKILL")
    })
    return { line, kill: killed }
  })

/** One contract for every PersistedQueueStore adapter, driven through PersistedQueue. */
export const queueStoreContract = <R>(
  name: string,
  environment: Layer.Layer<R>,
  subject: QueueStoreSubject<R>
): void => {
  const step = Duration.fromInputUnsafe(subject.delayStep)

  /** One queue as two consumers see it, each on its own build of the store, as two processes would. */
  const twoConsumers = (name: string) =>
    Effect.gen(function* () {
      const a = within(yield* build(subject, "a"))
      const b = within(yield* build(subject, "b"))
      return {
        queueA: yield* a(PersistedQueue.make({ name, schema: Job })),
        queueB: yield* b(PersistedQueue.make({ name, schema: Job }))
      }
    })

  // every test has its own queue, so they run side by side
  layer(environment, { timeout: "60 seconds", excludeTestServices: true, concurrent: true })(name, (it) => {
    it.effect("delivers every offered element at least once across competing consumers", () =>
      Effect.gen(function* () {
        const name = queueName("alo")
        const { queueA, queueB } = yield* twoConsumers(name)
        const offered = Array.from({ length: 12 }, (_, n) => n)
        yield* Effect.forEach(offered, (n) => queueA.offer({ n }), { discard: true })
        const seen: Array<number> = []
        const worker = (queue: typeof queueA) =>
          queue.take(({ n }) => Effect.sync(() => seen.push(n))).pipe(Effect.forever, Effect.forkScoped)
        yield* worker(queueA)
        yield* worker(queueA)
        yield* worker(queueB)
        yield* Effect.sync(() => new Set(seen).size).pipe(
          Effect.repeat({ until: (size) => size === offered.length, schedule: Schedule.spaced("25 millis") }),
          Effect.timeout("15 seconds")
        )
        assert.deepStrictEqual(
          [...new Set(seen)].sort((x, y) => x - y),
          offered
        )
      })
    )

    it.effect("a failing handler is retried after the schedule's delay, counting attempts", () =>
      Effect.gen(function* () {
        const name = queueName("retry")
        const a = within(yield* build(subject, "a"))
        const queue = yield* a(
          PersistedQueue.make({
            name,
            schema: Job,
            maxAttempts: 3,
            retrySchedule: Schedule.spaced("150 millis")
          })
        )
        yield* queue.offer({ n: 7 })
        const attempts: Array<{ readonly attempts: number; readonly at: number }> = []
        const handler = (_: unknown, meta: { readonly attempts: number }) =>
          Effect.sync(() => attempts.push({ attempts: meta.attempts, at: Date.now() })).pipe(
            Effect.andThen(meta.attempts < 3 ? Effect.fail(new Boom({ message: "not yet" })) : Effect.succeed("done"))
          )
        const exits = yield* Effect.forEach([1, 2, 3], () => Effect.exit(queue.take(handler)))
        assert.deepStrictEqual(
          exits.map((exit) => exit._tag),
          ["Failure", "Failure", "Success"]
        )
        assert.deepStrictEqual(
          attempts.map((x) => x.attempts),
          [1, 2, 3]
        )
        const minimumGap = Math.max(150, Duration.toMillis(step))
        for (let i = 1; i < attempts.length; i++) {
          const gap = (attempts[i]?.at ?? 0) - (attempts[i - 1]?.at ?? 0)
          assert.isAtLeast(gap, minimumGap - 5, `retry ${i} waited for the delay`)
        }
        yield* none(queue.take(Effect.succeed))
      })
    )

    it.effect("after maxAttempts the element is dead-lettered, keeping its id (with its reason, re-queueable)", () =>
      Effect.gen(function* () {
        const name = queueName("dead")
        const a = within(yield* build(subject, "a"))
        const queue = yield* a(
          PersistedQueue.make({ name, schema: Job, maxAttempts: 2, retrySchedule: Schedule.spaced("10 millis") })
        )
        yield* queue.offer({ n: 1 }, { id: "poison" })
        for (const _ of [1, 2]) {
          yield* Effect.flip(queue.take(() => Effect.fail(new Boom({ message: "provider said no" }))))
        }
        yield* none(queue.take(Effect.succeed))

        // a dead letter keeps its id taken
        yield* queue.offer({ n: 2 }, { id: "poison" })
        yield* none(queue.take(Effect.succeed), "200 millis")
        if (!subject.deadLetters) return

        const deadLetters = yield* a(Effect.service(QueueDeadLetters))
        const [dead, ...others] = yield* deadLetters.list(name)
        assert.strictEqual(others.length, 0)
        assert.strictEqual(dead?.id, "poison")
        assert.deepStrictEqual(dead?.element, { n: 1 })
        assert.strictEqual(dead?.attempts, 2)
        assert.include(dead?.reason, "provider said no")
        assert.isTrue(Date.now() - (dead?.failedAt.getTime() ?? 0) < 60_000)

        assert.isTrue(yield* deadLetters.retry(name, "poison"))
        assert.isFalse(yield* deadLetters.retry(name, "poison"))
        const retried = yield* queue
          .take((job, meta) => Effect.succeed({ job, meta }))
          .pipe(Effect.timeout("5 seconds"))
        assert.deepStrictEqual(retried, { job: { n: 1 }, meta: { id: "poison", attempts: 1 } })
        assert.deepStrictEqual(yield* deadLetters.list(name), [])
      })
    )

    it.effect("an undecodable element is dead-lettered at once, never reaching a handler", () =>
      Effect.gen(function* () {
        const name = queueName("undecodable")
        const a = within(yield* build(subject, "a"))
        // a retry instead of a dead letter would show within `none`'s wait
        const queue = yield* a(
          PersistedQueue.make({ name, schema: Job, maxAttempts: 3, retrySchedule: Schedule.spaced("10 millis") })
        )
        yield* a(
          PersistedQueue.PersistedQueueStore.use((store) =>
            store.offer({ name, id: "garbled", element: { n: "seven" }, isCustomId: true })
          )
        )
        yield* queue.offer({ n: 1 }, { id: "fine" })
        assert.strictEqual(
          yield* queue.take((_, meta) => Effect.succeed(meta.id)).pipe(Effect.timeout("5 seconds")),
          "fine"
        )
        yield* none(queue.take(Effect.succeed))
      })
    )

    // Only a store that exposes its dead letters has this behaviour: registered for it alone, never a skipped test.
    if (subject.deadLetters)
      it.effect("retry all re-queues every dead letter; an undecodable element is dead-lettered at once", () =>
        Effect.gen(function* () {
          const name = queueName("retryall")
          const a = within(yield* build(subject, "a"))
          const deadLetters = yield* a(Effect.service(QueueDeadLetters))
          const queue = yield* a(PersistedQueue.make({ name, schema: Job, maxAttempts: 1 }))
          yield* a(
            PersistedQueue.PersistedQueueStore.use((store) =>
              store.offer({ name, id: "garbled", element: { n: "seven" }, isCustomId: true })
            )
          )
          yield* queue.offer({ n: 1 }, { id: "x" })
          yield* queue.offer({ n: 2 }, { id: "y" })
          const failed: Array<string> = []
          for (const _ of [1, 2]) {
            yield* Effect.flip(queue.take((_, meta) => Effect.fail(new Boom({ message: meta.id }))))
          }
          for (const letter of yield* deadLetters.list(name)) failed.push(letter.id)
          assert.deepStrictEqual(failed.sort(), ["garbled", "x", "y"])
          assert.strictEqual(yield* deadLetters.retryAll(name), 3)
          const ids: Array<string> = []
          for (const _ of [1, 2]) {
            ids.push(yield* queue.take((_, meta) => Effect.succeed(meta.id)).pipe(Effect.timeout("5 seconds")))
          }
          assert.deepStrictEqual(ids.sort(), ["x", "y"])
          const [garbled] = yield* deadLetters.list(name)
          assert.strictEqual(garbled?.id, "garbled")
        })
      )

    it.effect("an interrupted handler releases its element without counting the attempt", () =>
      Effect.gen(function* () {
        const name = queueName("interrupt")
        const a = within(yield* build(subject, "a"))
        const queue = yield* a(PersistedQueue.make({ name, schema: Job }))
        yield* queue.offer({ n: 1 })
        const started = yield* Deferred.make<number>()
        const fiber = yield* queue
          .take((_, meta) => Deferred.succeed(started, meta.attempts).pipe(Effect.andThen(Effect.never)))
          .pipe(Effect.forkChild)
        assert.strictEqual(yield* Deferred.await(started), 1)
        yield* Fiber.interrupt(fiber)
        const attempts = yield* queue.take((_, meta) => Effect.succeed(meta.attempts)).pipe(Effect.timeout("5 seconds"))
        assert.strictEqual(attempts, 1)
      })
    )

    it.effect("a consumer that dies mid-message loses it to another consumer after the claim timeout", () =>
      Effect.gen(function* () {
        const name = queueName("takeover")
        const b = within(yield* build(subject, "survivor"))
        const queue = yield* b(PersistedQueue.make({ name, schema: Job }))
        const id = yield* queue.offer({ n: 42 })
        const doomed = yield* takeInAnotherProcess(yield* subject.workerConfig(name, "doomed"))
        assert.strictEqual(doomed.line, `taken ${id} 1`)
        yield* doomed.kill
        const taken = yield* queue.take((job, meta) => Effect.succeed({ job, meta })).pipe(Effect.timeout("15 seconds"))
        assert.deepStrictEqual(taken, { job: { n: 42 }, meta: { id, attempts: 2 } })
        yield* none(queue.take(Effect.succeed))
      })
    )

    it.effect("a slow handler keeps its claim past the claim timeout", () =>
      Effect.gen(function* () {
        const name = queueName("slow")
        const { queueA, queueB } = yield* twoConsumers(name)
        yield* queueA.offer({ n: 1 })
        const slow = Duration.times(Duration.fromInputUnsafe(subject.claimTimeout), 2.5)
        const started = yield* Deferred.make<void>()
        const handled = yield* queueA
          .take((_, meta) =>
            Deferred.succeed(started, undefined).pipe(Effect.andThen(Effect.sleep(slow)), Effect.as(meta))
          )
          .pipe(Effect.forkChild)
        yield* Deferred.await(started)
        yield* none(queueB.take(Effect.succeed), slow)
        assert.strictEqual((yield* Fiber.join(handled)).attempts, 1)
        yield* none(queueB.take(Effect.succeed))
      })
    )

    it.effect("a delayed offer is not delivered before its delay", () =>
      Effect.gen(function* () {
        const name = queueName("delay")
        const a = within(yield* build(subject, "a"))
        const queue = yield* a(PersistedQueue.make({ name, schema: Job }))
        const delay = Math.max(300, Duration.toMillis(step))
        const offeredAt = Date.now()
        yield* queue.offer({ n: 1 }, { delay: Duration.millis(delay) })
        const deliveredAt = yield* queue.take(() => Effect.sync(() => Date.now())).pipe(Effect.timeout("10 seconds"))
        assert.isAtLeast(deliveredAt - offeredAt, delay)
      })
    )

    it.effect("the element travels untouched, so a worker can rejoin the producer's trace", () =>
      Effect.gen(function* () {
        const name = queueName("trace")
        const a = within(yield* build(subject, "a"))
        yield* a(
          PersistedQueue.PersistedQueueStore.use((store) =>
            store.offer({
              name,
              id: "raw",
              element: { n: 1, extra: { nested: [1, "two", null] }, ünï: "✓" },
              isCustomId: true
            })
          )
        )
        const raw = yield* a(
          Effect.scoped(
            PersistedQueue.PersistedQueueStore.use((store) =>
              store.take({ name, maxAttempts: 3, retryDelay: () => Effect.succeed(Duration.zero) })
            )
          )
        )
        assert.deepStrictEqual(raw.element, { n: 1, extra: { nested: [1, "two", null] }, ünï: "✓" })

        const queue = yield* a(PersistedQueue.make({ name, schema: Traced }))
        const producer = yield* Effect.gen(function* () {
          const span = yield* Effect.currentSpan
          yield* queue.offer({ n: 2, trace: { ...HttpTraceContext.toHeaders(span) } })
          return span
        }).pipe(Effect.withSpan("produce"))
        const worker = yield* queue.take(({ trace }) => {
          const parent = Option.getOrThrow(HttpTraceContext.fromHeaders(Headers.fromInput(trace)))
          return Effect.currentSpan.pipe(Effect.withSpan("work"), Effect.withParentSpan(parent))
        })
        assert.strictEqual(worker.traceId, producer.traceId)
        assert.strictEqual(Option.getOrThrow(worker.parent).spanId, producer.spanId)
      })
    )
  })

  // cleanup spans every queue of the store: these run one at a time on an environment of their own
  layer(environment, { timeout: "60 seconds", excludeTestServices: true })(`${name} cleanup`, (it) => {
    it.effect("an id offered twice is processed once, even after completion, until cleanup", () =>
      Effect.gen(function* () {
        const name = queueName("dedupe")
        const a = within(yield* build(subject, "a"))
        const queue = yield* a(PersistedQueue.make({ name, schema: Job }))
        assert.strictEqual(yield* queue.offer({ n: 1 }, { id: "order-1" }), "order-1")
        yield* queue.offer({ n: 2 }, { id: "order-1" })
        const first = yield* queue.take((job, meta) => Effect.succeed({ job, meta }))
        assert.deepStrictEqual(first, { job: { n: 1 }, meta: { id: "order-1", attempts: 1 } })
        yield* queue.offer({ n: 3 }, { id: "order-1" })
        yield* none(queue.take(Effect.succeed))

        yield* Effect.sleep("20 millis")
        yield* a(
          PersistedQueue.PersistedQueueStore.use((store) =>
            store.cleanup({ timeToLive: Duration.zero, failedTimeToLive: undefined })
          )
        )
        yield* queue.offer({ n: 4 }, { id: "order-1" })
        const again = yield* queue.take((job) => Effect.succeed(job)).pipe(Effect.timeout("5 seconds"))
        assert.deepStrictEqual(again, { n: 4 })
      })
    )

    it.effect("cleanup with a failed time-to-live drops dead letters and frees their ids", () =>
      Effect.gen(function* () {
        const name = queueName("cleanup")
        const a = within(yield* build(subject, "a"))
        const deadLetters = subject.deadLetters ? yield* a(Effect.service(QueueDeadLetters)) : undefined
        const assertDead = (count: number, message?: string) =>
          deadLetters === undefined
            ? Effect.void
            : Effect.map(deadLetters.list(name), (listed) => assert.strictEqual(listed.length, count, message))
        const queue = yield* a(PersistedQueue.make({ name, schema: Job, maxAttempts: 1 }))
        yield* queue.offer({ n: 1 }, { id: "gone" })
        yield* Effect.flip(queue.take(() => Effect.fail(new Boom({ message: "no" }))))
        yield* assertDead(1)
        const cleanup = (failedTimeToLive: Duration.Duration | undefined) =>
          a(
            PersistedQueue.PersistedQueueStore.use((store) =>
              store.cleanup({ timeToLive: Duration.zero, failedTimeToLive })
            )
          )
        yield* Effect.sleep("20 millis")
        yield* cleanup(undefined)
        yield* assertDead(1, "dead letters are kept by default")
        yield* queue.offer({ n: 2 }, { id: "gone" })
        yield* none(queue.take(Effect.succeed), "200 millis")
        yield* cleanup(Duration.zero)
        yield* assertDead(0)
        yield* queue.offer({ n: 3 }, { id: "gone" })
        assert.deepStrictEqual(yield* queue.take(Effect.succeed).pipe(Effect.timeout("5 seconds")), { n: 3 })
      })
    )
  })
}
