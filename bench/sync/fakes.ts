import { startFakeQuickBooks } from "../../test/sandbox/FakeQuickBooks.ts"
import { startFakeStripe } from "../../test/sandbox/FakeStripe.ts"
import { serveFakes } from "./harness.ts"

/**
 * The Stripe and QuickBooks fakes of bench/sync/run.ts in a process of their own, so that their CPU (building,
 * serializing and serving pages) is counted apart from the service's. Driven over the IPC channel of `fork`:
 * each message `{ id, op, ...args }` is answered `{ id, result }` or `{ id, error }`.
 */
const stripe = await startFakeStripe()
const quickbooks = await startFakeQuickBooks()

const ops: Parameters<typeof serveFakes>[0] = {
  addStripeKey: (m) => stripe.addKey(m.key),
  seedStripe: (m) => stripe.seed(m.accountId, "customer", m.count),
  seedQuickBooks: (m) => quickbooks.seed(m.realm, "customer", m.count),
  consentQuickBooks: (m) => quickbooks.consent(m.url, m.account === undefined ? {} : { account: m.account }),
  /** Changes `count` customers spread evenly over the list: a new name, so content and hash differ. */
  changeStripe: (m) => {
    const all = stripe.records(m.accountId, "customer")
    const step = Math.floor(all.length / m.count)
    for (let i = 0; i < m.count; i++) {
      const id = all[i * step]!.id as string
      stripe.upsertRecord(m.accountId, "customer", { id, name: `Changed ${m.tag} ${i}` })
    }
    return m.count
  },
  /**
   * As `changeStripe`; the fake's clock moves a second after every `perSecond` changes, as changes arriving over a
   * few seconds would be stamped (QuickBooks stamps LastUpdatedTime to the second, and a CDC answer saturated within
   * one second cannot be split: see QuickBooksData).
   */
  changeQuickBooks: (m) => {
    const all = quickbooks.records(m.realm, "customer")
    const step = Math.floor(all.length / m.count)
    const ids = Array.from({ length: m.count }, (_, i) => all[i * step]!.Id)
    ids.forEach((Id, i) => {
      if (i > 0 && i % m.perSecond === 0) quickbooks.advance(1000)
      quickbooks.upsertRecord(m.realm, "customer", { Id, GivenName: `Changed ${m.tag} ${i}` })
    })
    quickbooks.advance(1000)
    return m.count
  },
  stripeRequests: (m) => stripe.dataRequests(m.accountId).length,
  quickBooksRequests: (m) => quickbooks.dataRequests(m.realm).length
}

serveFakes(ops, {
  stripeUrl: stripe.url,
  quickbooks: {
    url: quickbooks.url,
    clientId: quickbooks.clientId,
    clientSecret: quickbooks.clientSecret,
    realmId: quickbooks.realmId
  }
})
