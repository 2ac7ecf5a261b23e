import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { MailchimpListId } from "../../domain/ConnectionSettings.ts"
import { VenueId } from "../../domain/Ids.ts"
import { ApiErrors } from "./ApiErrors.ts"
import { Authorization, RoleRequirement } from "./Authorization.ts"

export const MailchimpSettingsRequest = Schema.Struct({ venueId: VenueId, listId: MailchimpListId })

/** The chosen audience and the webhook registered on it; its URL secret is never shown. */
export const MailchimpSettingsResponse = Schema.Struct({
  venueId: VenueId,
  listId: Schema.String,
  audienceName: Schema.String,
  webhook: Schema.Struct({ url: Schema.String, events: Schema.Array(Schema.String) })
}).annotate({ identifier: "MailchimpSettings" })

/** Settings a Mailchimp connection needs after its OAuth connect: the venue's audience. */
export class MailchimpSettingsGroup extends HttpApiGroup.make("mailchimpSettings")
  .add(
    HttpApiEndpoint.put("update", "/mailchimp/settings", {
      payload: MailchimpSettingsRequest,
      success: MailchimpSettingsResponse,
      error: ApiErrors
    }).annotate(RoleRequirement, "manage")
  )
  .middleware(Authorization)
  .prefix("/api/v1/integrations") {}
