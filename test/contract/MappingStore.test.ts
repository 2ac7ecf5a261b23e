import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { MemoryMappingStore } from "../../adapters/memory/MemoryMappingStore.ts"
import { MemoryMappingTemplates } from "../../adapters/memory/MemoryMappingTemplates.ts"
import { PostgresMappingStore } from "../../adapters/postgres/PostgresMappingStore.ts"
import { PostgresMappingTemplates } from "../../adapters/postgres/PostgresMappingTemplates.ts"
import type { Connection } from "../../domain/Connection.ts"
import { builtInTemplates } from "../../domain/mapping/DefaultTemplates.ts"
import type { Rule } from "../../domain/mapping/Rule.ts"
import type { MappingKey } from "../../domain/mapping/SavedMapping.ts"
import { MappingStore } from "../../ports/MappingStore.ts"
import { MappingTemplates } from "../../ports/MappingTemplates.ts"
import {
  type ConnectionSetup,
  memoryConnectionSetup,
  postgresConnectionSetup,
  setUpConnection
} from "../support/ConnectionSetup.ts"
import { tenantA, tenantB } from "../support/Fixtures.ts"
import { TestDatabase } from "../support/TestDatabase.ts"

const memory = Layer.mergeAll(MemoryMappingStore.layer, MemoryMappingTemplates.layer, memoryConnectionSetup)
const postgres = Layer.mergeAll(
  PostgresMappingStore.layer,
  PostgresMappingTemplates.layer,
  postgresConnectionSetup
).pipe(Layer.provide(TestDatabase))

const keyOf = (c: Connection, direction: MappingKey["direction"] = "inbound"): MappingKey => ({
  tenantId: c.tenantId,
  connectionId: c.id,
  entityType: "customer",
  direction
})
const rules = (email: string): ReadonlyArray<Rule> => [
  { target: "id", source: "id", required: true },
  { target: "email", source: email, transforms: [{ op: "trim" }, { op: "lower" }] }
]
const at = (minute: number) => new Date(Date.UTC(2026, 10, 1, 10, minute))
const draft = (email: string, extra: { expectedVersion?: number; minute?: number } = {}) => ({
  rules: rules(email),
  template: null,
  updatedBy: "user-1",
  at: at(extra.minute ?? 0),
  expectedVersion: extra.expectedVersion
})

const contract = (name: string, stack: Layer.Layer<MappingStore | MappingTemplates | ConnectionSetup>) =>
  layer(stack, { timeout: "60 seconds", excludeTestServices: true })(`MappingStore contract: ${name}`, (it) => {
    it.effect("every save is a new version; the current one, earlier ones and the history read back", () =>
      Effect.gen(function* () {
        const store = yield* MappingStore
        const c = yield* setUpConnection(tenantA, "stripe")
        assert.isTrue(Option.isNone(yield* store.current(keyOf(c))))
        const first = yield* store.save(keyOf(c), { ...draft("email"), template: "builtin:general" })
        const second = yield* store.save(keyOf(c), draft("shipping.name", { expectedVersion: 1, minute: 5 }))
        assert.deepStrictEqual([first.version, second.version], [1, 2])
        const current = Option.getOrThrow(yield* store.current(keyOf(c)))
        assert.deepStrictEqual(current, second)
        assert.deepStrictEqual(current.rules, rules("shipping.name"))
        assert.strictEqual(current.updatedAt.toISOString(), at(5).toISOString())
        assert.strictEqual(current.status, "ok")
        const earlier = Option.getOrThrow(yield* store.version(keyOf(c), 1))
        assert.deepStrictEqual(earlier.rules, rules("email"))
        assert.strictEqual(earlier.template, "builtin:general")
        assert.isTrue(Option.isNone(yield* store.version(keyOf(c), 3)))
        assert.deepStrictEqual(
          (yield* store.history(keyOf(c))).map((m) => m.version),
          [2, 1]
        )
        // The other direction is its own mapping.
        assert.isTrue(Option.isNone(yield* store.current(keyOf(c, "outbound"))))
      })
    )

    it.effect("a stale expectedVersion is a conflict naming the current version, and writes nothing", () =>
      Effect.gen(function* () {
        const store = yield* MappingStore
        const c = yield* setUpConnection(tenantA, "stripe")
        const created = yield* store.save(keyOf(c), draft("email", { expectedVersion: 0 }))
        assert.strictEqual(created.version, 1)
        const conflict = (expectedVersion: number) =>
          Effect.flip(store.save(keyOf(c), draft("shipping.name", { expectedVersion }))).pipe(
            Effect.map((e) => (e._tag === "MappingVersionConflict" ? e : assert.fail(e.message)))
          )
        const again = yield* conflict(0)
        assert.deepStrictEqual(
          [again._tag, again.expectedVersion, again.currentVersion],
          ["MappingVersionConflict", 0, 1]
        )
        const stale = yield* conflict(7)
        assert.deepStrictEqual([stale.expectedVersion, stale.currentVersion], [7, 1])
        assert.deepStrictEqual(
          (yield* store.history(keyOf(c))).map((m) => m.version),
          [1]
        )
      })
    )

    it.effect("of concurrent saves from one version exactly one wins; unconditional saves all land in order", () =>
      Effect.gen(function* () {
        const store = yield* MappingStore
        const c = yield* setUpConnection(tenantA, "stripe")
        yield* store.save(keyOf(c), draft("email"))
        const outcomes = yield* Effect.all(
          Array.from({ length: 8 }, () =>
            Effect.result(store.save(keyOf(c), draft("shipping.name", { expectedVersion: 1 })))
          ),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(outcomes.filter((o) => o._tag === "Success").length, 1)
        yield* Effect.all(
          Array.from({ length: 8 }, () => store.save(keyOf(c), draft("email"))),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(
          (yield* store.history(keyOf(c))).map((m) => m.version),
          Array.from({ length: 10 }, (_, i) => 10 - i)
        )
      })
    )

    it.effect("broken rules are recorded without a new version and cleared by the next save", () =>
      Effect.gen(function* () {
        const store = yield* MappingStore
        const c = yield* setUpConnection(tenantA, "stripe")
        yield* store.save(keyOf(c), draft("email"))
        yield* store.markBroken(keyOf(c), [{ rule: 1, field: "email" }])
        const broken = Option.getOrThrow(yield* store.current(keyOf(c)))
        assert.deepStrictEqual(
          [broken.version, broken.status, broken.brokenRules],
          [1, "broken", [{ rule: 1, field: "email" }]]
        )
        assert.deepStrictEqual(
          (yield* store.ofConnection(tenantA, c.id)).map((m) => m.status),
          ["broken"]
        )
        const saved = yield* store.save(keyOf(c), draft("email"))
        assert.deepStrictEqual([saved.version, saved.status, saved.brokenRules], [2, "ok", []])
      })
    )

    it.effect("mappings belong to their tenant", () =>
      Effect.gen(function* () {
        const store = yield* MappingStore
        const theirs = yield* setUpConnection(tenantB, "stripe")
        yield* store.save(keyOf(theirs), draft("email"))
        const asA = { ...keyOf(theirs), tenantId: tenantA }
        assert.isTrue(Option.isNone(yield* store.current(asA)))
        assert.isTrue(Option.isNone(yield* store.version(asA, 1)))
        assert.deepStrictEqual(yield* store.history(asA), [])
        assert.deepStrictEqual(yield* store.ofConnection(tenantA, theirs.id), [])
        assert.strictEqual((yield* store.ofConnection(tenantB, theirs.id)).length, 1)
      })
    )

    it.effect("templates: every built-in one is listed; a tenant's own are named uniquely, counted and its alone", () =>
      Effect.gen(function* () {
        const templates = yield* MappingTemplates
        const builtIn = (yield* templates.list(tenantA, "stripe")).filter((t) => t.kind === "builtin")
        assert.strictEqual(builtIn.length, builtInTemplates.filter((t) => t.provider === "stripe").length)
        const theatre = yield* templates.find(tenantA, "stripe", "builtin:theatre")
        assert.isTrue(theatre.length > 1 && theatre.every((t) => t.name === "theatre" && t.venueType === "theatre"))
        const before = theatre[0]!.usageCount
        yield* templates.countUse(tenantA, theatre[0]!)
        assert.strictEqual((yield* templates.find(tenantA, "stripe", "builtin:theatre"))[0]!.usageCount, before + 1)

        const name = `box office ${crypto.randomUUID()}`
        const mine = yield* templates.save({
          tenantId: tenantA,
          provider: "stripe",
          entityType: "customer",
          direction: "inbound",
          name,
          rules: rules("email"),
          createdBy: "user-1"
        })
        assert.match(mine.id, /^tenant:[0-9a-f-]{36}$/)
        const taken = yield* Effect.flip(
          templates.save({
            tenantId: tenantA,
            provider: "stripe",
            entityType: "customer",
            direction: "inbound",
            name,
            rules: [],
            createdBy: "u"
          })
        )
        assert.strictEqual(taken._tag, "TemplateNameTaken")
        const found = yield* templates.find(tenantA, "stripe", mine.id)
        assert.deepStrictEqual(
          found.map((t) => [t.name, t.rules]),
          [[name, rules("email")]]
        )
        yield* templates.countUse(tenantA, mine)
        assert.strictEqual((yield* templates.find(tenantA, "stripe", mine.id))[0]!.usageCount, 1)
        assert.isTrue((yield* templates.list(tenantA, "stripe")).some((t) => t.id === mine.id))
        // Another tenant sees neither the template nor its name.
        assert.deepStrictEqual(yield* templates.find(tenantB, "stripe", mine.id), [])
        assert.isFalse((yield* templates.list(tenantB, "stripe")).some((t) => t.kind === "tenant" && t.name === name))
        assert.deepStrictEqual(yield* templates.find(tenantA, "square", mine.id), [])
        assert.deepStrictEqual(yield* templates.find(tenantA, "stripe", "tenant:not-a-uuid"), [])
      })
    )
  })

describe("MappingStore contract", () => {
  contract("memory", memory)
  contract("postgres", postgres)
})
