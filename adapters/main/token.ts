import { parseArgs } from "node:util"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { signToken } from "../http/JoseTokenVerifier.ts"
import { jwtKeys } from "./Auth.ts"

// npm run token -- --tenant <uuid> --role admin|venue_admin|viewer --venue <uuid> [--venue …] [--sub user] [--ttl 12h]
const { values } = parseArgs({
  options: {
    tenant: { type: "string", default: "00000000-0000-4000-8000-000000000001" },
    role: { type: "string", default: "admin" },
    venue: { type: "string", multiple: true, default: [] },
    sub: { type: "string", default: "dev-user" },
    ttl: { type: "string", default: "12h" }
  }
})

const program = Effect.gen(function* () {
  const keys = yield* jwtKeys
  if (keys._tag !== "Secret") {
    return yield* Effect.fail(new Error("JWT_JWKS_URL is set: tokens come from your identity provider, not from here"))
  }
  const token = yield* Effect.promise(() =>
    signToken(
      keys.secret,
      { sub: values.sub, tenantId: values.tenant, venueIds: values.venue, role: values.role },
      values.ttl
    )
  )
  yield* Console.log(token)
})

NodeRuntime.runMain(program)
