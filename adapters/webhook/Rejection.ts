/**
 * `reject(provider, reason)`: fails with the opaque `InvalidSignature`; the reason (a fixed phrase, never a secret or a
 * signature) goes only to a debug log and the current span.
 */
import { Effect } from "effect"
import type { Provider } from "../../domain/Provider.ts"
import { InvalidSignature } from "../../domain/WebhookEvent.ts"

export const reject = (provider: Provider, reason: string): Effect.Effect<never, InvalidSignature> =>
  Effect.logDebug("webhook signature rejected").pipe(
    Effect.annotateLogs({ provider, reason }),
    Effect.andThen(Effect.annotateCurrentSpan("webhook.rejection", reason)),
    Effect.andThen(Effect.fail(new InvalidSignature({ provider })))
  )
