import { Effect, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { CredentialCheck } from "../../application/CredentialCheck.ts"
import { KeyManagement } from "../../ports/KeyManagement.ts"
import { RedisPing } from "../../ports/operations/BreakerReset.ts"
import { StoreHealth } from "../../ports/StoreHealth.ts"
import { providerReachability } from "../operations/ProviderReachability.ts"
import { Api } from "./Api.ts"
import { Forbidden, ServiceUnavailable } from "./ApiErrors.ts"
import { CurrentPrincipal } from "./Authorization.ts"

const probe = <E>(check: Effect.Effect<void, E>) =>
  check.pipe(
    Effect.timeout("2 seconds"),
    Effect.as("ok"),
    Effect.catch(() => Effect.succeed("unavailable"))
  )

export const MonitoringHttp = HttpApiBuilder.group(
  Api,
  "monitoring",
  Effect.fn(function* (handlers) {
    const store = yield* StoreHealth
    const redis = yield* Effect.serviceOption(RedisPing)
    return handlers
      .handle("live", () => Effect.succeed({ status: "ok" as const, checks: {} }))
      .handle("ready", () =>
        Effect.gen(function* () {
          const database = yield* probe(store.ping)
          if (database !== "ok") {
            return yield* new ServiceUnavailable({ code: "NotReady", message: "database is unavailable" })
          }
          // With REDIS_URL set, queues, budgets and breakers live on Redis: no Redis, not ready.
          if (Option.isNone(redis)) return { status: "ok" as const, checks: { database } }
          const cache = yield* probe(redis.value.ping)
          if (cache !== "ok") {
            return yield* new ServiceUnavailable({ code: "NotReady", message: "redis is unavailable" })
          }
          return { status: "ok" as const, checks: { database, redis: cache } }
        })
      )
  })
)

/**
 * The deep check reaches KMS, opens a sample of every tenant's credentials and probes each provider's host, so it is
 * for admins and operators only. An unreachable provider is reported, not counted against this service.
 */
export const MonitoringAdminHttp = HttpApiBuilder.group(
  Api,
  "monitoringAdmin",
  Effect.fn(function* (handlers) {
    const store = yield* StoreHealth
    const keys = yield* KeyManagement
    const credentials = yield* CredentialCheck
    return handlers.handle("deep", () =>
      Effect.gen(function* () {
        const principal = yield* CurrentPrincipal
        if (principal.role !== "admin" && principal.role !== "operator") {
          return yield* new Forbidden({
            code: "Forbidden",
            message: "the deep health check is for admins and operators"
          })
        }
        const [database, kms, sample, reachable] = yield* Effect.all(
          [probe(store.ping), probe(keys.ping), credentials.check, providerReachability],
          { concurrency: 4 }
        )
        const checks = { database, kms, credentials: credentials.describe(sample), ...reachable }
        // Credentials the configured master key cannot open make the service degraded; an unchecked sample does not.
        if (database !== "ok" || kms !== "ok" || sample._tag === "Unreadable") {
          return yield* new ServiceUnavailable({ code: "Degraded", message: JSON.stringify(checks) })
        }
        return { status: "ok" as const, checks }
      })
    )
  })
)
