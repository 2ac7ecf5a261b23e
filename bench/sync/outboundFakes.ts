import { startFakeMailchimp } from "../../test/sandbox/FakeMailchimp.ts"
import { startFakeStripe } from "../../test/sandbox/FakeStripe.ts"
import { serveFakes } from "./harness.ts"

/**
 * The Stripe and Mailchimp fakes of bench/sync/outbound.ts in a process of their own, so that their CPU is counted
 * apart from the service's; driven over IPC like bench/sync/fakes.ts.
 */
const stripe = await startFakeStripe()
const mailchimp = await startFakeMailchimp()

const ops: Parameters<typeof serveFakes>[0] = {
  addStripeKey: (m) => stripe.addKey(m.key),
  setStripeRateLimit: (m) => stripe.setRateLimit(m.accountId, { limit: m.limit, windowMs: m.windowMs }),
  /** Writes since `since` (epoch ms): how many, how many 429s, and the first and last arrival. */
  stripeWrites: (m) => {
    const writes = stripe.dataRequests(m.accountId).filter((r) => r.method !== "GET" && r.at >= m.since)
    return {
      count: writes.length,
      rateLimited: writes.filter((r) => r.status === 429).length,
      first: writes[0]?.at ?? null,
      last: writes.at(-1)?.at ?? null,
      arrivals: writes.filter((r) => r.status !== 429).map((r) => r.at)
    }
  },
  stripeCreations: (m) => stripe.creations(m.accountId, "customer"),
  consentMailchimp: (m) => mailchimp.consent(m.url),
  setMailchimpBatchPolls: (m) => mailchimp.setBatchPolls(m.polls),
  mailchimpRequests: (m) =>
    mailchimp
      .dataRequests(mailchimp.accountId)
      .filter((r) => r.at >= m.since)
      .map((r) => r.path),
  mailchimpCreations: () => mailchimp.creations(mailchimp.accountId, "contact"),
  mailchimpMembers: () => mailchimp.records(mailchimp.accountId, "contact").length
}

serveFakes(ops, {
  stripeUrl: stripe.url,
  mailchimp: { url: mailchimp.url, clientId: mailchimp.clientId, clientSecret: mailchimp.clientSecret }
})
