/**
 * Webhook deliveries on Node without Effect's HTTP stack: `POST /api/v1/integrations/webhooks/:provider` is answered
 * by a plain `node:http` listener that runs the same `receiveWebhook` (verify over the raw bytes, fail closed, commit
 * before the 2xx) in one fiber over the service's prebuilt context; every other request goes to Effect's router.
 * At thousands of deliveries a second the router, request wrapper and middleware cost more than the work itself.
 * `WebhookFastPath.layerServer(options)` is `NodeHttpServer.layerConfig` over such a server.
 */
import { type IncomingMessage, Server, type ServerResponse } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { ByteSize, Config, Effect, Exit, Layer } from "effect"
import { IngestWebhook } from "../../application/IngestWebhook.ts"
import { parentFrom } from "../../application/ProcessWebhookEvent.ts"
import type { Provider } from "../../domain/Provider.ts"
import { webhookMaxBody } from "./BodyLimit.ts"
import { isProvider, receiveWebhook, type WebhookReply, webhookPath } from "./WebhookReceive.ts"

type Handler = (request: IncomingMessage, response: ServerResponse) => boolean

const prefix = `${webhookPath}/`
const requestIdPattern = /^[A-Za-z0-9._:-]{1,128}$/
const failed: WebhookReply = {
  status: 500,
  body: { _tag: "InternalError", code: "Internal", message: "internal error" }
}
const maxBodyBytes = ByteSize.toNumberUnsafe(webhookMaxBody)
const tooLarge: WebhookReply = {
  status: 413,
  body: {
    _tag: "PayloadTooLarge",
    code: "PayloadTooLarge",
    message: `webhook bodies are limited to ${maxBodyBytes} bytes`
  }
}

const send = (response: ServerResponse, reply: WebhookReply, requestId: string) => {
  if (reply.body === undefined) {
    response.writeHead(reply.status, { "x-request-id": requestId, "content-length": 0 }).end()
    return
  }
  const json = JSON.stringify(reply.body)
  response
    .writeHead(reply.status, {
      ...reply.headers,
      "content-type": "application/json",
      "content-length": Buffer.byteLength(json),
      "x-request-id": requestId
    })
    .end(json)
}

/** How long a refused request's connection keeps discarding what the client still sends after our answer. */
const lingerMillis = 2_000

/**
 * A lingering close (as web servers do for an unread body): Node closes the connection once the answer is written,
 * and a close while the client is still sending resets it — the reset can reach the client before it has read our
 * 413, which it then never sees. Instead the write side is closed (the client reads the answer, then the end), what
 * still arrives is discarded, and the socket is destroyed when the client closes or after `lingerMillis`.
 */
const lingerOnClose = (request: IncomingMessage) => {
  const socket = request.socket
  socket.destroySoon = () => {
    socket.end()
    socket.resume()
    setTimeout(() => socket.destroy(), lingerMillis).unref()
  }
}

/** The listener: true when it took the request (a known provider's POST), false to leave it to Effect. */
const make = Effect.gen(function* () {
  const ingest = yield* IngestWebhook
  const runFork = Effect.runForkWith(yield* Effect.context<never>())
  // The router's request line (`HttpMiddleware.logger`): same message, annotations and log span. Built only when on.
  const logRequests = yield* Config.Boolean("HTTP_REQUEST_LOG").pipe(Config.withDefault(true))
  const requestLine = (url: string) => (reply: WebhookReply) =>
    Effect.annotateLogs(Effect.log("Sent HTTP response"), {
      "http.method": "POST",
      "http.url": url.split("?", 1)[0],
      "http.status": reply.status
    })

  const receive = (
    request: IncomingMessage,
    response: ServerResponse,
    provider: Provider,
    url: string,
    raw: Uint8Array
  ) => {
    const incoming = request.headers["x-request-id"]
    const requestId = typeof incoming === "string" && requestIdPattern.test(incoming) ? incoming : crypto.randomUUID()
    const traceParent = request.headers.traceparent
    const parent = parentFrom(typeof traceParent === "string" ? traceParent : null)
    const received = receiveWebhook(ingest, provider, { url, headers: request.headers, raw })
    runFork(
      (logRequests ? received.pipe(Effect.tap(requestLine(url)), Effect.withLogSpan("http.span")) : received).pipe(
        Effect.withSpan(
          "WebhookFastPath.receive",
          {
            kind: "server",
            ...(parent === undefined ? {} : { parent }),
            attributes: { "http.request.method": "POST", "webhook.provider": provider, "http.request_id": requestId }
          },
          { captureStackTrace: false }
        )
      )
    ).addObserver((exit) => {
      if (Exit.isSuccess(exit)) return send(response, exit.value, requestId)
      send(response, failed, requestId)
      // A defect (`receiveWebhook` answers every expected failure itself): logged off the hot path, with its cause.
      runFork(
        Effect.logError("webhook delivery failed", exit.cause).pipe(
          Effect.annotateLogs({ "webhook.provider": provider, requestId, "http.status": failed.status })
        )
      )
    })
  }

  const handler: Handler = (request, response) => {
    const url = request.url
    if (request.method !== "POST" || url === undefined || !url.startsWith(prefix)) return false
    const end = url.indexOf("?", prefix.length)
    const provider = url.slice(prefix.length, end < 0 ? undefined : end)
    if (!isProvider(provider)) return false
    let chunks: Array<Buffer> = []
    let size = 0
    const onEnd = () =>
      receive(request, response, provider, url, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks))
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBodyBytes) return refuse()
      chunks.push(chunk)
    }
    // Past the limit (declared, or once read): answered at once and the connection closed, the rest never read.
    const refuse = () => {
      chunks = []
      request.off("data", onData).off("end", onEnd)
      response.setHeader("connection", "close")
      lingerOnClose(request)
      send(response, tooLarge, crypto.randomUUID())
      if (logRequests) runFork(requestLine(url)(tooLarge).pipe(Effect.withLogSpan("http.span")))
    }
    if (Number(request.headers["content-length"]) > maxBodyBytes) {
      refuse()
      return true
    }
    request.on("data", onData)
    // A client gone mid-body: Node has destroyed the socket and 'end' never comes; drop what was buffered now.
    request.on("error", () => {
      chunks = []
    })
    request.on("end", onEnd)
    return true
  }
  return handler
})

/** Offers each request to the fast path first; what it leaves reaches the `request` listeners (Effect's) as usual. */
class FastPathServer extends Server {
  readonly fastPath: Handler
  constructor(fastPath: Handler) {
    super()
    this.fastPath = fastPath
  }
  override emit(event: string | symbol, ...args: Array<any>): boolean {
    if (event === "request" && this.fastPath(args[0], args[1])) return true
    return super.emit(event as string, ...args)
  }
}

const layerServer = (options: Parameters<typeof NodeHttpServer.layerConfig>[1]) =>
  Layer.unwrap(Effect.map(make, (fastPath) => NodeHttpServer.layerConfig(() => new FastPathServer(fastPath), options)))

export const WebhookFastPath = { make, layerServer } as const
