import { readdirSync, readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { splitStatements } from "../../adapters/postgres/SqlScript.ts"

describe("splitStatements", () => {
  it("splits at top-level semicolons only", () => {
    const script = `-- a comment; with a semicolon
CREATE TABLE a (x text DEFAULT 'a;b');
DO $$ BEGIN PERFORM 1; PERFORM 2; END $$;
/* block; comment */ SELECT "odd;name" FROM a;
CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $body$ SELECT 1; $body$;
SELECT 'it''s; fine'`
    assert.deepStrictEqual(splitStatements(script).length, 5)
    assert.match(splitStatements(script)[1]!, /PERFORM 2; END \$\$$/)
  })

  it("every migration splits into statements that each end where the file says", () => {
    const dir = new URL("../../migrations/", import.meta.url)
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql"))) {
      const statements = splitStatements(readFileSync(new URL(file, dir), "utf8"))
      assert.isAbove(statements.length, 0, file)
      for (const statement of statements) assert.notMatch(statement, /;\s*$/, file)
    }
  })

  it("joining the pieces back with semicolons loses no statement text (property)", () => {
    const fragment = fc.constantFrom(
      "SELECT 1",
      "SELECT 'x;y'",
      "DO $$ BEGIN NULL; END $$",
      'SELECT "a;b"',
      "SELECT 2 /* ; */"
    )
    fc.assert(
      fc.property(fc.array(fragment, { minLength: 1, maxLength: 8 }), (parts) => {
        assert.deepStrictEqual(splitStatements(parts.join(";\n")), parts)
      })
    )
  })
})
