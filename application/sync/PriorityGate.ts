import { Deferred, Effect } from "effect"
import { type Priority, priorityRank } from "../../domain/sync/SyncJob.ts"

/**
 * `slots` jobs at a time in this process; when one frees up, the waiting job of the highest priority gets it (then
 * the longest waiting). What makes a `critical` job overtake a backlog of `low` ones that arrived first.
 */
export const makePriorityGate = (slots: number) => {
  let free = slots
  const waiting: Array<{ readonly rank: number; readonly seq: number; readonly ready: Deferred.Deferred<void> }> = []
  let seq = 0

  const release = Effect.sync(() => {
    waiting.sort((a, b) => a.rank - b.rank || a.seq - b.seq)
    const next = waiting.shift()
    if (next === undefined) free++
    else Deferred.doneUnsafe(next.ready, Effect.void)
  })

  const acquire = (priority: Priority) =>
    Effect.suspend(() => {
      if (free > 0) {
        free--
        return Effect.void
      }
      const ready = Deferred.makeUnsafe<void>()
      const entry = { rank: priorityRank(priority), seq: seq++, ready }
      waiting.push(entry)
      return Deferred.await(ready).pipe(
        Effect.interruptible,
        // Interrupted while waiting: leave the line; interrupted just after being handed the slot: pass it on.
        Effect.onInterrupt(() =>
          Effect.suspend(() => {
            const i = waiting.indexOf(entry)
            if (i < 0) return release
            waiting.splice(i, 1)
            return Effect.void
          })
        )
      )
    })

  return <A, E, R>(priority: Priority, effect: Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(
      acquire(priority),
      () => effect,
      () => release
    )
}
