import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Role } from "../../domain/Principal.ts"

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8")

describe("README: roles", () => {
  it("names exactly the roles a token may carry, and says any other is refused", () => {
    const bullet = /^- Roles: [\s\S]*?(?=\n- |\n\n)/m.exec(readme)?.[0]
    assert.isDefined(bullet, "the Tenancy and security section has a Roles bullet")
    const named = new Set([...bullet!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]).filter((n) => n !== "venue_ids"))
    assert.deepStrictEqual([...named].sort(), [...Role.literals].sort())
    assert.notInclude(bullet!, "every other", "no role outside the schema reads anything")
    assert.include(bullet!, "any other role is `401`")
  })
})
