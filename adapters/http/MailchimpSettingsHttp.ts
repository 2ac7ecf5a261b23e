import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { MailchimpAudience } from "../../application/MailchimpAudience.ts"
import { Api } from "./Api.ts"
import { CurrentPrincipal } from "./Authorization.ts"
import { toOAuthHttpError } from "./OAuthHttpErrors.ts"

export const MailchimpSettingsHttp = HttpApiBuilder.group(
  Api,
  "mailchimpSettings",
  Effect.fn(function* (handlers) {
    const audience = yield* MailchimpAudience
    return handlers.handle("update", ({ payload }) =>
      CurrentPrincipal.use((p) => audience.choose(p, payload.venueId, payload.listId)).pipe(
        Effect.mapError(toOAuthHttpError)
      )
    )
  })
)
