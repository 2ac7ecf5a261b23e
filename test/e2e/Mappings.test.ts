import { readFileSync } from "node:fs"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { FetchHttpClient } from "effect/http"
import type { OAuthProviderName } from "../../domain/OAuth.ts"
import { asTenant, type Caller, call, TestApp, TestWorld } from "../support/TestApp.ts"

const tenant = "cccccccc-0000-4000-8000-0000000000c1"
const otherTenant = "dddddddd-0000-4000-8000-0000000000d1"
const venue = (n: number) => `cccccccc-1111-4000-8000-0000000000${String(n).padStart(2, "0")}`
const admin: Caller = { tenantId: tenant, venueIds: [], role: "admin" }
const outsider: Caller = { tenantId: otherTenant, venueIds: [], role: "admin" }
const base = "/api/v1/integrations"

const fixture = (provider: string, file: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/sync/${provider}/${file}.json`, import.meta.url), "utf8"))

/** Every mapping row of the tenant, every version and every template: what "nothing changed" compares. */
const snapshot = asTenant(tenant, (sql) =>
  Effect.all({
    mappings: sql`SELECT connection_id, entity_type, direction, version, rules, status, broken_rules
      FROM field_mappings ORDER BY 1, 2, 3`,
    versions: sql`SELECT connection_id, entity_type, direction, version FROM field_mapping_versions ORDER BY 1, 2, 3, 4`,
    templates: sql`SELECT id, name, usage_count FROM tenant_mapping_templates ORDER BY id`
  })
)

const connectOAuth = (provider: OAuthProviderName, venueId: string) =>
  Effect.gen(function* () {
    const world = yield* TestWorld
    const started = yield* call("POST", `${base}/connect/${provider}`, { caller: admin, body: { venueId } })
    assert.strictEqual(started.status, 200, started.text)
    const query = yield* Effect.promise(() => world[provider].consent(started.body.authorizationUrl))
    const done = yield* call("GET", `${base}/oauth/callback/${provider}?${new URLSearchParams(query)}`).pipe(
      Effect.provideService(FetchHttpClient.RequestInit, { redirect: "manual" })
    )
    assert.strictEqual(done.status, 200, done.text)
  })

const connectStripe = (venueId: string) =>
  Effect.gen(function* () {
    const { stripe } = yield* TestWorld
    const apiKey = `sk_test_map${venueId.replaceAll("-", "").slice(-16)}`
    stripe.addKey(apiKey)
    const done = yield* call("POST", `${base}/connect/stripe`, { caller: admin, body: { venueId, apiKey } })
    assert.strictEqual(done.status, 201, done.text)
  })

const getMapping = (provider: string, venueId: string, entityType: string, direction: string, extra = "") =>
  call(
    "GET",
    `${base}/${provider}/mappings?venueId=${venueId}&entityType=${entityType}&direction=${direction}${extra}`,
    {
      caller: admin
    }
  )

const put = (provider: string, body: Record<string, unknown>, caller: Caller = admin) =>
  call("PUT", `${base}/${provider}/mappings`, { caller, body })

const post = (path: string, body: unknown, caller: Caller = admin) => call("POST", `${base}${path}`, { caller, body })

const stripeCustomer = {
  id: "cus_Nffrk3xpx5XW9u",
  object: "customer",
  email: "  Ada@Example.COM ",
  name: "Ada Lovelace",
  phone: "+44 20 7946 0000",
  address: { line1: "1 Stage Door", line2: null, city: "London", state: null, postal_code: "WC2", country: "GB" },
  metadata: { access_needs: "wheelchair" },
  created: 1700000000,
  livemode: false
}

layer(TestApp, { timeout: "120 seconds", excludeTestServices: true })("field mappings over HTTP", (it) => {
  it.effect("fields: the provider's catalog, the canonical side and the account's custom fields with their ids", () =>
    Effect.gen(function* () {
      yield* connectOAuth("mailchimp", venue(1))
      yield* connectOAuth("quickbooks", venue(1))
      yield* connectOAuth("square", venue(1))
      const mailchimp = yield* call("GET", `${base}/mailchimp/fields?venueId=${venue(1)}&entityType=contact`, {
        caller: admin
      })
      assert.strictEqual(mailchimp.status, 200, mailchimp.text)
      assert.isTrue(mailchimp.body.standard.some((f: any) => f.path === "email_address" && f.required))
      assert.isTrue(mailchimp.body.canonical.some((f: any) => f.path === "email"))
      assert.deepStrictEqual(
        mailchimp.body.custom.find((f: any) => f.path === "merge_fields.FNAME"),
        { path: "merge_fields.FNAME", type: "string", maxLength: 25, custom: { stableId: "1", name: "First Name" } }
      )
      const quickbooks = yield* call("GET", `${base}/quickbooks/fields?venueId=${venue(1)}&entityType=order`, {
        caller: admin
      })
      assert.strictEqual(quickbooks.status, 200, quickbooks.text)
      assert.deepStrictEqual(
        quickbooks.body.custom.map((f: any) => [f.path, f.custom.name]),
        [
          ["CustomField[DefinitionId=1].StringValue", "Crew #"],
          ["CustomField[DefinitionId=2].StringValue", "Sales Rep"]
        ]
      )
      const square = yield* call("GET", `${base}/square/fields?venueId=${venue(1)}&entityType=customer`, {
        caller: admin
      })
      assert.strictEqual(square.status, 200, square.text)
      assert.deepStrictEqual(
        square.body.custom.map((f: any) => [f.path, f.type, f.custom.stableId]),
        [
          ["custom_attributes.seat-preference.value", "string", "seat-preference"],
          ["custom_attributes.member-since.value", "date", "member-since"]
        ]
      )
      // The merge fields are those of the audience the venue chose.
      const { mailchimp: fake } = yield* TestWorld
      const [, second] = fake.audiences()
      fake.renameMergeField(second!.id, "LNAME", { tag: "SURNAME", name: "Surname" })
      const chose = yield* call("PUT", `${base}/mailchimp/settings`, {
        caller: admin,
        body: { venueId: venue(1), listId: second!.id }
      })
      assert.strictEqual(chose.status, 200, chose.text)
      const chosen = yield* call("GET", `${base}/mailchimp/fields?venueId=${venue(1)}&entityType=contact`, {
        caller: admin
      })
      assert.deepStrictEqual(
        chosen.body.custom.filter((f: any) => f.custom.stableId === "2").map((f: any) => f.path),
        ["merge_fields.SURNAME"]
      )
      const unsupported = yield* call("GET", `${base}/mailchimp/fields?venueId=${venue(1)}&entityType=invoice`, {
        caller: admin
      })
      assert.deepStrictEqual([unsupported.status, unsupported.body.field], [422, "entityType"])
    })
  )

  it.effect("a mapping is versioned: the default is version 0, each PUT a new version, earlier ones readable", () =>
    Effect.gen(function* () {
      yield* connectStripe(venue(2))
      const initial = yield* getMapping("stripe", venue(2), "customer", "inbound")
      assert.strictEqual(initial.status, 200, initial.text)
      assert.deepStrictEqual(
        [initial.body.version, initial.body.template, initial.body.updatedBy],
        [0, "builtin:general", null]
      )
      const rules = [...initial.body.rules, { target: "attributes.accessNeeds", source: "metadata.access_needs" }]
      const first = yield* put("stripe", {
        venueId: venue(2),
        entityType: "customer",
        direction: "inbound",
        rules,
        expectedVersion: 0
      })
      assert.strictEqual(first.status, 200, first.text)
      assert.deepStrictEqual([first.body.version, first.body.updatedBy, first.body.template], [1, "user-1", null])
      const second = yield* put("stripe", {
        venueId: venue(2),
        entityType: "customer",
        direction: "inbound",
        rules: initial.body.rules,
        expectedVersion: 1
      })
      assert.strictEqual(second.body.version, 2)
      const before = yield* snapshot
      const stale = yield* put("stripe", {
        venueId: venue(2),
        entityType: "customer",
        direction: "inbound",
        rules,
        expectedVersion: 1
      })
      assert.deepStrictEqual(
        [stale.status, stale.body.code, stale.body.field],
        [409, "MappingVersionConflict", "expectedVersion"]
      )
      assert.deepStrictEqual(yield* snapshot, before)
      const old = yield* getMapping("stripe", venue(2), "customer", "inbound", "&version=1")
      assert.deepStrictEqual(
        [old.status, old.body.version, old.body.rules.at(-1)],
        [200, 1, { target: "attributes.accessNeeds", source: "metadata.access_needs" }]
      )
      const missing = yield* getMapping("stripe", venue(2), "customer", "inbound", "&version=9")
      assert.deepStrictEqual([missing.status, missing.body.field], [404, "version"])
      const current = yield* getMapping("stripe", venue(2), "customer", "inbound")
      assert.deepStrictEqual([current.body.version, current.body.status], [2, "ok"])
    })
  )

  it.effect("every 4xx names the field and changes nothing", () =>
    Effect.gen(function* () {
      yield* connectStripe(venue(3))
      const target = { venueId: venue(3), entityType: "customer", direction: "inbound" }
      const saved = yield* put("stripe", { ...target, rules: [{ target: "id", source: "id" }] })
      assert.strictEqual(saved.status, 200, saved.text)
      const before = yield* snapshot

      const invalid = yield* put("stripe", {
        ...target,
        rules: [
          { target: "id", source: "id" },
          { target: "email", source: "no_such_field" },
          { target: "givenName", source: "address" },
          { target: "marketingConsent", source: "name", transforms: [{ op: "lookup", table: { a: "maybe" } }] }
        ]
      })
      assert.strictEqual(invalid.status, 422, invalid.text)
      assert.strictEqual(invalid.body.code, "InvalidMapping")
      assert.strictEqual(invalid.body.field, "rules[1]")
      assert.deepStrictEqual(
        invalid.body.problems.map((p: any) => [p.rule, p.field]),
        [
          [1, "no_such_field"],
          [2, "givenName"],
          [3, "marketingConsent"]
        ]
      )

      const readOnly = yield* put("stripe", {
        venueId: venue(3),
        entityType: "customer",
        direction: "outbound",
        rules: [{ target: "created", source: "id" }]
      })
      assert.strictEqual(readOnly.status, 422)
      assert.isTrue(
        readOnly.body.problems.some((p: any) => p.rule === 0 && p.field === "created" && /read-only/.test(p.message))
      )

      const unmapped = yield* put("mailchimp", {
        venueId: venue(1),
        entityType: "contact",
        direction: "inbound",
        rules: [{ target: "id", source: "id" }]
      })
      assert.strictEqual(unmapped.status, 422, unmapped.text)
      assert.deepStrictEqual(
        unmapped.body.problems.map((p: any) => [p.rule, p.field]),
        [
          [null, "email"],
          [null, "status"]
        ]
      )
      const noConnection = yield* put("quickbooks", { ...target, rules: [] })
      assert.deepStrictEqual([noConnection.status, noConnection.body.field], [404, "provider"])

      const tooMany = yield* put("stripe", {
        ...target,
        rules: Array.from({ length: 201 }, (_, i) => ({ target: `attributes.a${i}`, source: "id" }))
      })
      assert.deepStrictEqual([tooMany.status, tooMany.body.field], [422, "rules"])

      const badBody = yield* put("stripe", { ...target, rules: [{ target: "id", source: "id", eval: "1+1" }] })
      assert.strictEqual(badBody.status, 400)
      assert.match(badBody.body.message, /eval/)
      const noVenue = yield* put("stripe", { entityType: "customer", direction: "inbound", rules: [] })
      assert.strictEqual(noVenue.status, 400)
      assert.match(noVenue.body.message, /venueId/)
      const badDirection = yield* put("stripe", { ...target, direction: "sideways", rules: [] })
      assert.strictEqual(badDirection.status, 400)
      assert.match(badDirection.body.message, /direction/)
      const unsupported = yield* put("stripe", { ...target, entityType: "contact", rules: [] })
      assert.deepStrictEqual([unsupported.status, unsupported.body.field], [422, "entityType"])

      const viewer = yield* put(
        "stripe",
        { ...target, rules: [] },
        { tenantId: tenant, venueIds: [venue(3)], role: "viewer" }
      )
      assert.strictEqual(viewer.status, 403)
      const notHers = yield* put(
        "stripe",
        { ...target, rules: [] },
        { tenantId: tenant, venueIds: [venue(9)], role: "venue_admin" }
      )
      assert.deepStrictEqual([notHers.status, notHers.body.field], [403, "venueId"])
      const huge = yield* put("stripe", {
        ...target,
        rules: [{ target: "id", source: "id", template: "x".repeat(2 * 1024 * 1024) }]
      })
      assert.strictEqual(huge.status, 413)

      const noTemplate = yield* post("/stripe/mappings/apply-template", {
        venueId: venue(3),
        template: "builtin:opera"
      })
      assert.deepStrictEqual([noTemplate.status, noTemplate.body.field], [404, "template"])
      const noSamples = yield* post("/stripe/mappings/test", target)
      assert.deepStrictEqual([noSamples.status, noSamples.body.field], [422, "samples"])
      const badDraft = yield* post("/stripe/mappings/test", {
        ...target,
        rules: [{ target: "nope", source: "id" }],
        samples: [{}]
      })
      assert.deepStrictEqual([badDraft.status, badDraft.body.problems[0].field], [422, "nope"])
      const noSaved = yield* post("/stripe/mappings/templates", { ...target, direction: "outbound", name: "x" })
      assert.deepStrictEqual([noSaved.status, noSaved.body.field], [404, "entityType"])

      assert.deepStrictEqual(yield* snapshot, before)
    })
  )

  it.effect("test applies the saved or draft rules to samples: output, warnings and errors per sample", () =>
    Effect.gen(function* () {
      yield* connectStripe(venue(4))
      const tried = yield* post("/stripe/mappings/test", {
        venueId: venue(4),
        entityType: "customer",
        direction: "inbound",
        samples: [stripeCustomer, { ...stripeCustomer, id: null }]
      })
      assert.strictEqual(tried.status, 200, tried.text)
      const [good, bad] = tried.body.results
      assert.strictEqual(good.output.email, "ada@example.com")
      assert.strictEqual(good.output.id, "cus_Nffrk3xpx5XW9u")
      assert.deepStrictEqual(good.errors, [])
      assert.isTrue(bad.errors.some((e: any) => e.field === "id"))
      const draft = yield* post("/stripe/mappings/test", {
        venueId: venue(4),
        entityType: "customer",
        direction: "inbound",
        rules: [
          { target: "id", source: "id" },
          { target: "givenName", source: "name", transforms: [{ op: "truncate", max: 3 }] }
        ],
        samples: [stripeCustomer]
      })
      assert.strictEqual(draft.status, 200, draft.text)
      assert.deepStrictEqual(draft.body.results[0].output, { id: "cus_Nffrk3xpx5XW9u", givenName: "Ada" })
      assert.deepStrictEqual(
        draft.body.results[0].warnings.map((w: any) => [w.rule, w.kind]),
        [[1, "truncated"]]
      )
      const members = yield* post("/mailchimp/mappings/test", {
        venueId: venue(1),
        entityType: "contact",
        direction: "inbound",
        samples: fixture("mailchimp", "list_members_page").members
      })
      assert.strictEqual(members.status, 200, members.text)
      assert.isTrue(members.body.results.length > 0)
      assert.isTrue(members.body.results.every((r: any) => r.errors.length === 0 && typeof r.output.email === "string"))
      // A dry run saves nothing.
      const mapping = yield* getMapping("stripe", venue(4), "customer", "inbound")
      assert.strictEqual(mapping.body.version, 0)
    })
  )

  it.effect("templates: apply a built-in one, reset, save a venue's as the tenant's own and apply it elsewhere", () =>
    Effect.gen(function* () {
      yield* connectStripe(venue(5))
      yield* connectStripe(venue(6))
      const listed = yield* call("GET", `${base}/stripe/mappings/templates`, { caller: admin })
      assert.strictEqual(listed.status, 200, listed.text)
      const theatreUses = () =>
        Effect.map(
          call("GET", `${base}/stripe/mappings/templates`, { caller: admin }),
          (r) =>
            r.body.templates.find(
              (t: any) => t.id === "builtin:theatre" && t.entityType === "customer" && t.direction === "inbound"
            ).usageCount
        )
      const usesBefore = yield* theatreUses()
      const applied = yield* post("/stripe/mappings/apply-template", {
        venueId: venue(5),
        template: "builtin:theatre",
        entityType: "customer"
      })
      assert.strictEqual(applied.status, 200, applied.text)
      assert.deepStrictEqual(
        applied.body.mappings.map((m: any) => [m.direction, m.version, m.template]),
        [
          ["inbound", 1, "builtin:theatre"],
          ["outbound", 1, "builtin:theatre"]
        ]
      )
      assert.isTrue(applied.body.mappings[0].rules.some((r: any) => r.target === "attributes.accessNeeds"))
      assert.strictEqual(yield* theatreUses(), usesBefore + 1)

      const saved = yield* post("/stripe/mappings/templates", {
        venueId: venue(5),
        entityType: "customer",
        direction: "inbound",
        name: "Theatre box office"
      })
      assert.strictEqual(saved.status, 201, saved.text)
      assert.match(saved.body.id, /^tenant:/)
      const again = yield* post("/stripe/mappings/templates", {
        venueId: venue(5),
        entityType: "customer",
        direction: "inbound",
        name: "Theatre box office"
      })
      assert.deepStrictEqual([again.status, again.body.field], [409, "name"])
      const elsewhere = yield* post("/stripe/mappings/apply-template", { venueId: venue(6), template: saved.body.id })
      assert.strictEqual(elsewhere.status, 200, elsewhere.text)
      assert.deepStrictEqual(elsewhere.body.mappings[0].rules, applied.body.mappings[0].rules)
      const mine = (yield* call("GET", `${base}/stripe/mappings/templates`, { caller: admin })).body.templates.find(
        (t: any) => t.id === saved.body.id
      )
      assert.strictEqual(mine.usageCount, 1)

      const reset = yield* post("/stripe/mappings/reset", {
        venueId: venue(5),
        entityType: "customer",
        direction: "inbound"
      })
      assert.strictEqual(reset.status, 200, reset.text)
      assert.deepStrictEqual(
        reset.body.mappings.map((m: any) => [m.direction, m.version, m.template]),
        [["inbound", 2, "builtin:general"]]
      )
      assert.isFalse(reset.body.mappings[0].rules.some((r: any) => r.target === "attributes.accessNeeds"))
    })
  )

  it.effect("heal: a Mailchimp merge field renamed in the account is followed by its merge_id", () =>
    Effect.gen(function* () {
      const { mailchimp } = yield* TestWorld
      yield* connectOAuth("mailchimp", venue(7))
      const saved = yield* post("/mailchimp/mappings/reset", {
        venueId: venue(7),
        entityType: "contact",
        direction: "inbound"
      })
      assert.strictEqual(saved.status, 200, saved.text)
      const givenName = saved.body.mappings[0].rules.find((r: any) => r.target === "givenName")
      assert.deepStrictEqual(givenName, { target: "givenName", source: "merge_fields.FNAME", sourceId: "1" })

      const audience = mailchimp.audiences()[0]!.id
      mailchimp.renameMergeField(audience, "FNAME", { tag: "FIRSTNAME", name: "First name" })
      const dry = yield* post("/mailchimp/mappings/heal", { venueId: venue(7), dryRun: true })
      assert.strictEqual(dry.status, 200, dry.text)
      const inbound = dry.body.mappings.find((m: any) => m.direction === "inbound")
      assert.deepStrictEqual(inbound.changes, [
        { rule: 2, field: "merge_fields.FNAME", action: "repaired", to: "merge_fields.FIRSTNAME", by: "stableId" }
      ])
      assert.strictEqual(inbound.version, inbound.fromVersion)
      const broken = yield* getMapping("mailchimp", venue(7), "contact", "inbound")
      assert.deepStrictEqual(
        [broken.body.status, broken.body.brokenRules],
        ["broken", [{ rule: 2, field: "merge_fields.FNAME" }]]
      )
      assert.strictEqual(broken.body.version, 1)

      const healed = yield* post("/mailchimp/mappings/heal", { venueId: venue(7) })
      assert.strictEqual(healed.status, 200, healed.text)
      const after = healed.body.mappings.find((m: any) => m.direction === "inbound")
      assert.deepStrictEqual([after.fromVersion, after.version], [1, 2])
      const current = yield* getMapping("mailchimp", venue(7), "contact", "inbound")
      assert.deepStrictEqual([current.body.version, current.body.status], [2, "ok"])
      assert.deepStrictEqual(current.body.rules[2], {
        target: "givenName",
        source: "merge_fields.FIRSTNAME",
        sourceId: "1"
      })
    })
  )

  it.effect("heal: a QuickBooks custom field deleted in the company disables its rule with the reason", () =>
    Effect.gen(function* () {
      const { quickbooks } = yield* TestWorld
      yield* connectOAuth("quickbooks", venue(8))
      const initial = yield* getMapping("quickbooks", venue(8), "order", "inbound")
      const crew = { target: "attributes.crew", source: "CustomField[DefinitionId=1].StringValue" }
      const saved = yield* put("quickbooks", {
        venueId: venue(8),
        entityType: "order",
        direction: "inbound",
        rules: [...initial.body.rules, crew]
      })
      assert.strictEqual(saved.status, 200, saved.text)
      assert.deepStrictEqual(saved.body.rules.at(-1), { ...crew, sourceId: "1" })
      const index = saved.body.rules.length - 1

      quickbooks.deleteSalesCustomField(1)
      const healed = yield* post("/quickbooks/mappings/heal", { venueId: venue(8) })
      assert.strictEqual(healed.status, 200, healed.text)
      const reason = "CustomField[DefinitionId=1].StringValue no longer exists at the provider (field id 1 is gone)"
      assert.deepStrictEqual(healed.body.mappings[0].changes, [
        { rule: index, field: crew.source, action: "disabled", reason }
      ])
      const current = yield* getMapping("quickbooks", venue(8), "order", "inbound")
      assert.deepStrictEqual([current.body.version, current.body.status], [2, "ok"])
      assert.deepStrictEqual(current.body.rules[index].disabled, { reason })
      const tried = yield* post("/quickbooks/mappings/test", {
        venueId: venue(8),
        entityType: "order",
        direction: "inbound",
        samples: fixture("quickbooks", "query_salesreceipt").QueryResponse.SalesReceipt
      })
      assert.strictEqual(tried.status, 200, tried.text)
      assert.isTrue(
        tried.body.results.every((r: any) => r.errors.length === 0 && r.output.attributes?.crew === undefined)
      )
    })
  )

  it.effect(
    "tenant isolation: another tenant reaches neither the connections' mappings nor the tenant's templates",
    () =>
      Effect.gen(function* () {
        yield* connectStripe(venue(10))
        const saved = yield* put("stripe", {
          venueId: venue(10),
          entityType: "customer",
          direction: "inbound",
          rules: [{ target: "id", source: "id" }]
        })
        assert.strictEqual(saved.status, 200)
        const template = yield* post("/stripe/mappings/templates", {
          venueId: venue(10),
          entityType: "customer",
          direction: "inbound",
          name: "Only ours"
        })
        assert.strictEqual(template.status, 201)
        const before = yield* snapshot
        const target = { venueId: venue(10), entityType: "customer", direction: "inbound" }
        const attempts = [
          call("GET", `${base}/stripe/fields?venueId=${venue(10)}&entityType=customer`, { caller: outsider }),
          call("GET", `${base}/stripe/mappings?venueId=${venue(10)}&entityType=customer&direction=inbound`, {
            caller: outsider
          }),
          put("stripe", { ...target, rules: [] }, outsider),
          post("/stripe/mappings/test", { ...target, samples: [stripeCustomer] }, outsider),
          post("/stripe/mappings/apply-template", { venueId: venue(10), template: "builtin:general" }, outsider),
          post("/stripe/mappings/reset", { venueId: venue(10) }, outsider),
          post("/stripe/mappings/heal", { venueId: venue(10) }, outsider),
          post("/stripe/mappings/templates", { ...target, name: "theirs" }, outsider)
        ]
        for (const attempt of attempts) {
          const reply = yield* attempt
          assert.deepStrictEqual([reply.status, reply.body.field], [404, "provider"], reply.text)
        }
        const theirs = yield* call("GET", `${base}/stripe/mappings/templates`, { caller: outsider })
        assert.strictEqual(theirs.status, 200)
        assert.isFalse(theirs.body.templates.some((t: any) => t.kind === "tenant"))
        // The outsider's own venue with the same id cannot take the template either.
        yield* Effect.gen(function* () {
          const applied = yield* post(
            "/stripe/mappings/apply-template",
            { venueId: venue(10), template: template.body.id },
            outsider
          )
          assert.strictEqual(applied.status, 404)
        })
        assert.deepStrictEqual(yield* snapshot, before)
      })
  )
})
