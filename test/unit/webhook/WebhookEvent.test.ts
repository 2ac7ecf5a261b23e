import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Result, Schema } from "effect"
import type { Provider } from "../../../domain/Provider.ts"
import { parseWebhook, quickBooksLegacyType, WebhookEvent } from "../../../domain/WebhookEvent.ts"
import { fixtureBytes, fixtureNames, fixtureText } from "./webhookFixtures.ts"

const utf8 = (text: string) => new TextEncoder().encode(text)
const iso = (event: WebhookEvent) => (event.occurredAt === null ? null : DateTime.formatIso(event.occurredAt))
const isWebhookEvent = Schema.is(WebhookEvent)

const parseOne = (provider: Provider, raw: Uint8Array, contentType?: string) =>
  Effect.gen(function* () {
    const events = yield* parseWebhook(provider, raw, contentType)
    assert.strictEqual(events.length, 1)
    assert.isTrue(isWebhookEvent(events[0]))
    return events[0]!
  })

const malformed = (provider: Provider, raw: Uint8Array | string, contentType?: string) =>
  Effect.gen(function* () {
    const result = yield* Effect.result(parseWebhook(provider, typeof raw === "string" ? utf8(raw) : raw, contentType))
    if (Result.isSuccess(result)) return assert.fail("expected MalformedWebhook")
    assert.strictEqual(result.failure._tag, "MalformedWebhook")
    assert.strictEqual(result.failure.provider, provider)
    return result.failure.message
  })

describe("parseWebhook", () => {
  describe("stripe", () => {
    for (const name of fixtureNames("stripe")) {
      it.effect(`${name}: id, type, no Connect account, created`, () =>
        Effect.gen(function* () {
          const body = JSON.parse(fixtureText(name))
          const event = yield* parseOne("stripe", fixtureBytes(name), "application/json; charset=utf-8")
          assert.strictEqual(event.provider, "stripe")
          assert.strictEqual(event.eventId, body.id)
          assert.strictEqual(event.type, body.type)
          assert.isNull(event.accountId)
          assert.strictEqual(iso(event), "2009-02-13T23:31:30.000Z")
          assert.deepStrictEqual(event.payload, body)
        })
      )
    }

    it.effect("routes a Connect event by its account", () =>
      Effect.gen(function* () {
        const body = { ...JSON.parse(fixtureText("stripe/charge.succeeded.json")), account: "acct_1Venue" }
        const event = yield* parseOne("stripe", utf8(JSON.stringify(body)))
        assert.strictEqual(event.accountId, "acct_1Venue")
        assert.strictEqual(event.eventId, "evt_composite_charge_succeeded")
      })
    )

    it.effect("names what is missing or mistyped", () =>
      Effect.gen(function* () {
        assert.strictEqual(yield* malformed("stripe", `{"type":"x"}`), "body.id must be a non-empty string")
        assert.strictEqual(yield* malformed("stripe", `{"id":"evt_1"}`), "body.type must be a non-empty string")
        assert.strictEqual(
          yield* malformed("stripe", `{"id":"evt_1","type":"x","account":7}`),
          "body.account must be a string"
        )
        assert.strictEqual(yield* malformed("stripe", `[]`), "body must be a JSON object")
        assert.strictEqual(yield* malformed("stripe", `{"id":`), "body is not valid JSON")
        assert.strictEqual(yield* malformed("stripe", new Uint8Array([0x7b, 0xff, 0x7d])), "body is not UTF-8")
        assert.strictEqual(
          yield* malformed("stripe", `{"id":"evt_1","type":"x"}`, "application/x-www-form-urlencoded"),
          "content type application/x-www-form-urlencoded is not JSON"
        )
      })
    )
  })

  describe("square", () => {
    for (const name of fixtureNames("square")) {
      it.effect(`${name}: event_id, type, merchant_id, created_at`, () =>
        Effect.gen(function* () {
          const body = JSON.parse(fixtureText(name))
          const event = yield* parseOne("square", fixtureBytes(name), "application/json")
          assert.strictEqual(event.eventId, body.event_id)
          assert.strictEqual(event.type, body.type)
          assert.strictEqual(event.accountId, body.merchant_id)
          assert.strictEqual(iso(event)?.slice(0, 19), body.created_at.slice(0, 19))
          assert.deepStrictEqual(event.payload, body)
        })
      )
    }

    it.effect("reads the official test notification exactly", () =>
      Effect.gen(function* () {
        const event = yield* parseOne("square", fixtureBytes("square/webhooks.test_notification.json"))
        assert.strictEqual(event.eventId, "ac3ac95b-f97d-458c-a6e6-18981597e05f")
        assert.strictEqual(event.type, "webhooks.test_notification")
        assert.strictEqual(event.accountId, "MLEFBHHSJGVHD")
        assert.strictEqual(iso(event), "2022-07-13T20:30:59.037Z")
      })
    )

    it.effect("requires event_id", () =>
      Effect.gen(function* () {
        assert.strictEqual(
          yield* malformed("square", `{"type":"payment.created","merchant_id":"M"}`),
          "body.event_id must be a non-empty string"
        )
      })
    )
  })

  describe("quickbooks", () => {
    it.effect("legacy: one event per entity, composite key, CloudEvents-style type, realm as account", () =>
      Effect.gen(function* () {
        const event = yield* parseOne("quickbooks", fixtureBytes("quickbooks/legacy.customer.create.json"))
        assert.strictEqual(event.eventId, "1185883450:Customer:1:Create:2015-10-05T14:42:19-0700")
        assert.strictEqual(event.type, "qbo.customer.created.v1")
        assert.strictEqual(event.accountId, "1185883450")
        assert.strictEqual(iso(event), "2015-10-05T21:42:19.000Z")
        assert.deepStrictEqual(event.payload, {
          name: "Customer",
          id: "1",
          operation: "Create",
          lastUpdated: "2015-10-05T14:42:19-0700"
        })
      })
    )

    it.effect("legacy: several notifications and entities flatten in order", () =>
      Effect.gen(function* () {
        const entity = (name: string, id: string, operation: string) => ({
          name,
          id,
          operation,
          lastUpdated: "2026-11-01T10:00:00.000Z"
        })
        const body = {
          eventNotifications: [
            {
              realmId: "1",
              dataChangeEvent: { entities: [entity("Invoice", "7", "Update"), entity("Item", "8", "Delete")] }
            },
            { realmId: "2", dataChangeEvent: { entities: [entity("JournalEntry", "9", "Void")] } }
          ]
        }
        const events = yield* parseWebhook("quickbooks", utf8(JSON.stringify(body)))
        assert.deepStrictEqual(
          events.map((e) => [e.accountId, e.type, e.eventId]),
          [
            ["1", "qbo.invoice.updated.v1", "1:Invoice:7:Update:2026-11-01T10:00:00.000Z"],
            ["1", "qbo.item.deleted.v1", "1:Item:8:Delete:2026-11-01T10:00:00.000Z"],
            ["2", "qbo.journalentry.voided.v1", "2:JournalEntry:9:Void:2026-11-01T10:00:00.000Z"]
          ]
        )
      })
    )

    it("maps legacy operations onto CloudEvents verbs", () => {
      assert.strictEqual(quickBooksLegacyType("Customer", "Merge"), "qbo.customer.merged.v1")
      assert.strictEqual(quickBooksLegacyType("Invoice", "Emailed"), "qbo.invoice.emailed.v1")
      assert.strictEqual(quickBooksLegacyType("Bill", "Archive"), "qbo.bill.archive.v1")
    })

    it.effect("CloudEvents: one event per element with id, type and intuitaccountid", () =>
      Effect.gen(function* () {
        const event = yield* parseOne(
          "quickbooks",
          fixtureBytes("quickbooks/cloudevents.class.created.json"),
          "application/cloudevents-batch+json"
        )
        assert.strictEqual(event.eventId, "d1a3aedd-9670-41bf-a4f9-c148a1cc4e03")
        assert.strictEqual(event.type, "qbo.class.created.v1")
        assert.strictEqual(event.accountId, "310687")
        assert.strictEqual(iso(event), "2025-10-07T19:59:07.034Z")
        assert.deepStrictEqual(event.payload, JSON.parse(fixtureText("quickbooks/cloudevents.class.created.json"))[0])
      })
    )

    it.effect("CloudEvents: an empty batch is zero events, several elements are several events", () =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* parseWebhook("quickbooks", utf8("[]")), [])
        const one = JSON.parse(fixtureText("quickbooks/cloudevents.class.created.json"))[0]
        const events = yield* parseWebhook("quickbooks", utf8(JSON.stringify([one, { ...one, id: "e2" }])))
        assert.deepStrictEqual(
          events.map((e) => e.eventId),
          ["d1a3aedd-9670-41bf-a4f9-c148a1cc4e03", "e2"]
        )
      })
    )

    it.effect("names the malformed part", () =>
      Effect.gen(function* () {
        assert.strictEqual(
          yield* malformed("quickbooks", `{"foo":1}`),
          "body must be a CloudEvents array or an object with eventNotifications"
        )
        assert.strictEqual(
          yield* malformed("quickbooks", `[{"type":"qbo.x.created.v1"}]`),
          "body[0].id must be a non-empty string"
        )
        assert.strictEqual(yield* malformed("quickbooks", `[1]`), "body[0] must be a JSON object")
        assert.strictEqual(
          yield* malformed(
            "quickbooks",
            `{"eventNotifications":[{"realmId":"1","dataChangeEvent":{"entities":[{"name":"Customer","operation":"Create","lastUpdated":"x"}]}}]}`
          ),
          "eventNotifications[0].dataChangeEvent.entities[0].id must be a non-empty string"
        )
        assert.strictEqual(
          yield* malformed("quickbooks", `{"eventNotifications":[{"realmId":"1"}]}`),
          "eventNotifications[0].dataChangeEvent must be a JSON object"
        )
      })
    )
  })

  describe("mailchimp", () => {
    for (const name of fixtureNames("mailchimp")) {
      const form = name.replace("mailchimp/", "mailchimp/raw/").replace(".json", ".form")
      it.effect(`${form}: type, list id, fired_at, nested payload, hashed key`, () =>
        Effect.gen(function* () {
          const flat = JSON.parse(fixtureText(name)) as Record<string, string>
          const event = yield* parseOne("mailchimp", fixtureBytes(form), "application/x-www-form-urlencoded")
          assert.strictEqual(event.type, flat.type)
          assert.strictEqual(event.accountId, flat["data[list_id]"])
          assert.strictEqual(iso(event), `${flat.fired_at!.replace(" ", "T")}.000Z`)
          assert.match(event.eventId, /^[0-9a-f]{64}$/)
          const payload = event.payload as { data: { merges: Record<string, string>; email: string } }
          assert.strictEqual(payload.data.email, flat["data[email]"])
          assert.strictEqual(payload.data.merges.FNAME, flat["data[merges][FNAME]"])
        })
      )
    }

    it.effect("the key is stable under field order and distinct across events", () =>
      Effect.gen(function* () {
        const forms = fixtureNames("mailchimp/raw", ".form")
        const keys = yield* Effect.forEach(forms, (form) =>
          Effect.map(parseOne("mailchimp", fixtureBytes(form)), (e) => e.eventId)
        )
        assert.strictEqual(new Set(keys).size, forms.length)
        const reversed = [...new URLSearchParams(fixtureText(forms[0]!))].reverse()
        const again = yield* parseOne("mailchimp", utf8(new URLSearchParams(reversed).toString()))
        assert.strictEqual(again.eventId, keys[0])
        const changed = fixtureText(forms[0]!).replace("data%5Bemail_type%5D=html", "data%5Bemail_type%5D=text")
        assert.notStrictEqual((yield* parseOne("mailchimp", utf8(changed))).eventId, keys[0])
      })
    )

    it.effect("names the malformed part", () =>
      Effect.gen(function* () {
        assert.strictEqual(
          yield* malformed("mailchimp", "fired_at=2009-03-26+21%3A35%3A57&data[id]=1"),
          "form.type must be a non-empty string"
        )
        assert.strictEqual(
          yield* malformed("mailchimp", "type=subscribe&data[id]=1"),
          "form.fired_at must be a non-empty string"
        )
        assert.strictEqual(
          yield* malformed("mailchimp", "type=subscribe&fired_at=x"),
          "form.data must be a JSON object"
        )
        assert.strictEqual(
          yield* malformed("mailchimp", "type=a&type[b]=c"),
          `form key "type[b]" is both a value and a map`
        )
        assert.strictEqual(
          yield* malformed("mailchimp", "type=subscribe", "application/json"),
          "content type application/json is not a form"
        )
      })
    )
  })
})
