import { Context, Effect, Layer } from "effect"
import { CredentialVault } from "../ports/CredentialVault.ts"
import { KeyManagement } from "../ports/KeyManagement.ts"
import { SecretCatalog } from "../ports/SecretCatalog.ts"

/** Secrets opened per check: enough to catch a wrong master key at once, few enough to cost nothing. */
export const credentialSampleSize = 20

/** What opening a sample of the stored credentials with the configured master key found. */
export type CredentialReport =
  | { readonly _tag: "Readable"; readonly sampled: number }
  | { readonly _tag: "NoneStored" }
  | {
      readonly _tag: "Unreadable"
      readonly sampled: number
      readonly unreadable: number
      /** The master keys the unreadable ones are wrapped under (key ids are not secrets). */
      readonly keyIds: ReadonlyArray<string>
    }
  /** The check could not run (no cross-tenant read, the database or KMS unavailable): nothing is known. */
  | { readonly _tag: "Unchecked"; readonly reason: string }

/** One line for logs and the deep health check. */
export const describeCredentialReport = (report: CredentialReport, currentKeyId: string): string => {
  switch (report._tag) {
    case "Readable":
      return `ok: ${report.sampled} sampled credentials open with master key ${currentKeyId}`
    case "NoneStored":
      return "ok: no credentials stored yet"
    case "Unreadable":
      return `${report.unreadable} of ${report.sampled} sampled credentials do not open with the configured master key ${currentKeyId} (they were sealed under ${report.keyIds.join(", ")}): was KMS_KEY_ID, LOCAL_MASTER_KEY or DATA_DIR changed?`
    case "Unchecked":
      return `unchecked: ${report.reason}`
  }
}

/**
 * Opens a random sample of every tenant's sealed credentials with the configured master key. A wrong key (KMS
 * switched on after secrets were sealed by the local keyring, another DATA_DIR, a lost keyring) shows at start-up
 * and in the deep health check instead of as a 500 on a venue's next request. The plaintexts are dropped at once.
 */
export class CredentialCheck extends Context.Service<CredentialCheck>()(
  "integration-service/application/CredentialCheck",
  {
    make: Effect.gen(function* () {
      const catalog = yield* SecretCatalog
      const vault = yield* CredentialVault
      const keys = yield* KeyManagement

      const run = Effect.fn("CredentialCheck.run")(function* () {
        const sample = yield* catalog.sample(credentialSampleSize)
        if (sample.length === 0) return { _tag: "NoneStored" } satisfies CredentialReport
        const outcomes = yield* Effect.forEach(
          sample,
          ({ place, sealed }) =>
            vault.open(place, sealed).pipe(
              Effect.as({ opened: true, keyId: sealed.keyId }),
              Effect.catchTag("SecretUnreadable", () => Effect.succeed({ opened: false, keyId: sealed.keyId }))
            ),
          { concurrency: 4 }
        )
        const unreadable = outcomes.filter((o) => !o.opened)
        yield* Effect.annotateCurrentSpan({
          "credentials.sampled": sample.length,
          "credentials.unreadable": unreadable.length
        })
        if (unreadable.length === 0) return { _tag: "Readable", sampled: sample.length } satisfies CredentialReport
        return {
          _tag: "Unreadable",
          sampled: sample.length,
          unreadable: unreadable.length,
          keyIds: [...new Set(unreadable.map((o) => o.keyId))].sort()
        } satisfies CredentialReport
      })

      const check: Effect.Effect<CredentialReport> = run().pipe(
        Effect.timeoutOrElse({
          duration: "10 seconds",
          orElse: () => Effect.succeed({ _tag: "Unchecked", reason: "timed out" } satisfies CredentialReport)
        }),
        Effect.catch((e) => Effect.succeed({ _tag: "Unchecked", reason: e.message } satisfies CredentialReport))
      )

      return {
        /** Never fails: what could not be checked is reported as such. */
        check,
        describe: (report: CredentialReport) => describeCredentialReport(report, keys.currentKeyId)
      }
    })
  }
) {
  static readonly layer = Layer.effect(this, this.make)

  /** Runs the check once in the background at start-up and logs its outcome: an error when credentials do not open. */
  static readonly atStartup = Layer.effectDiscard(
    Effect.gen(function* () {
      const { check, describe } = yield* CredentialCheck
      yield* Effect.forkScoped(
        Effect.flatMap(check, (report) => {
          const line = `stored credentials: ${describe(report)}`
          return report._tag === "Unreadable"
            ? Effect.logError(line)
            : report._tag === "Unchecked"
              ? Effect.logWarning(line)
              : Effect.logInfo(line)
        })
      )
    })
  )
}
