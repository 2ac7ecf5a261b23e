import { Effect, Layer, Schema } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { StoreUnavailable } from "../../domain/Errors.ts"
import { NotificationOutbox, type NotificationResult } from "../../ports/operations/NotificationOutbox.ts"

const unavailable = (error: SqlError.SqlError) => new StoreUnavailable({ message: `database: ${error.message}` })

const ClaimedRow = Schema.Struct({
  id: Schema.String,
  type: Schema.String,
  body: Schema.String,
  attempts: Schema.Number,
  createdAt: Schema.Date
})

/** `notification_outbox` through migration 0013's functions: claims are leased under FOR UPDATE SKIP LOCKED. */
export const PostgresNotificationOutbox = {
  layer: Layer.effect(
    NotificationOutbox,
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient

      const claim = Effect.fn("PostgresNotificationOutbox.claim")(function* (limit: number, leaseMillis: number) {
        const rows = yield* sql`SELECT id, type, body, attempts, created_at
          FROM app_claim_notifications(${limit}, ${`${Math.round(leaseMillis)} milliseconds`}::interval)`.pipe(
          Effect.mapError(unavailable)
        )
        return yield* Schema.decodeUnknownEffect(Schema.Array(ClaimedRow))(rows).pipe(
          Effect.mapError(() => new StoreUnavailable({ message: "a notification_outbox row does not decode" }))
        )
      })

      const finish = Effect.fn("PostgresNotificationOutbox.finish")(function* (id: string, result: NotificationResult) {
        yield* Effect.annotateCurrentSpan({ "notification.id": id, "notification.result": result._tag })
        const [status, error, next] =
          result._tag === "Delivered"
            ? (["delivered", null, null] as const)
            : result._tag === "Skipped"
              ? (["skipped", null, null] as const)
              : result._tag === "Dead"
                ? (["dead", result.error, null] as const)
                : (["pending", result.error, result.at] as const)
        yield* sql`SELECT app_finish_notification(${id}, ${status}, ${error}, ${next})`.pipe(
          Effect.mapError(unavailable)
        )
      })

      return NotificationOutbox.of({ claim, finish })
    })
  )
}
