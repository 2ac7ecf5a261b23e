import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { HttpApiScalar, OpenApi } from "effect/http-api"
import { Api } from "./Api.ts"
import { WebhookReceiveGroup } from "./WebhookReceiveApi.ts"

/**
 * The whole API as documented: what HttpApiBuilder serves (`Api`) plus the webhook receivers, which are served as
 * raw routes and on Node by the fast path, so they are declared here and never built from their schemas.
 */
export class ApiDocument extends Api.add(WebhookReceiveGroup) {}

/** `GET /openapi.json` and the Scalar docs at `/docs`, both over `ApiDocument`. */
export const ApiDocs = Layer.mergeAll(
  HttpRouter.use((router) =>
    Effect.gen(function* () {
      const document = HttpServerResponse.jsonUnsafe(OpenApi.fromApi(ApiDocument))
      yield* router.add("GET", "/openapi.json", Effect.succeed(document))
    })
  ),
  HttpApiScalar.layer(ApiDocument, { path: "/docs" })
)
