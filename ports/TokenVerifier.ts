import type { Effect, Redacted } from "effect"
import { Context, Schema } from "effect"
import type { Principal } from "../domain/Principal.ts"

export class InvalidToken extends Schema.TaggedError<InvalidToken>()("InvalidToken", {
  message: Schema.String
}) {}

/** Turns a bearer token into the caller it names. */
export class TokenVerifier extends Context.Service<
  TokenVerifier,
  {
    readonly verify: (token: Redacted.Redacted<string>) => Effect.Effect<Principal, InvalidToken>
  }
>()("integration-service/ports/TokenVerifier") {}
