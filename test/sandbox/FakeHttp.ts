import { createServer, type IncomingMessage, type Server } from "node:http"
import type { AddressInfo } from "node:net"

/** The node:http plumbing the sandbox fakes share; what they answer stays in each fake. */
export interface Reply {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
}

export const text = (status: number, body: string): Reply => ({
  status,
  headers: { "content-type": "text/plain" },
  body
})

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body)
})

export const redirect = (target: URL): Reply => ({ status: 302, headers: { location: target.toString() }, body: "" })

export const readBody = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

/** The token of an `Authorization: Bearer …` header, or "" without one. */
export const bearerToken = (req: IncomingMessage): string => {
  const header = req.headers.authorization ?? ""
  return header.startsWith("Bearer ") ? header.slice(7) : ""
}

export interface Listening {
  readonly url: string
  readonly port: number
  /** Also ends idle keep-alive connections, so a test's teardown never waits on a client's pool. */
  readonly close: () => Promise<void>
}

export const listen = (server: Server, port = 0): Promise<Listening> =>
  new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, "127.0.0.1", () => {
      const bound = (server.address() as AddressInfo).port
      resolve({
        url: `http://127.0.0.1:${bound}`,
        port: bound,
        close: () =>
          new Promise<void>((done, fail) => {
            server.closeAllConnections()
            server.close((e) => (e ? fail(e) : done()))
          })
      })
    })
  })

export interface FakeRequest {
  readonly req: IncomingMessage
  readonly url: URL
  /** `METHOD /path`, e.g. `POST /oauth2/token`. */
  readonly route: string
  readonly body: string
}

export interface ReplyServerOptions {
  readonly port?: number | undefined
  /** A throw here (a body that does not parse) answers `malformed()`. */
  readonly respond: (request: FakeRequest) => Reply
  readonly malformed: () => Reply
  /** Runs after the request is processed and before the answer is written. */
  readonly beforeReply?: (url: URL) => Promise<void>
}

/** Serves each request by reading its whole body and answering one `Reply`. */
export const serveReplies = (options: ReplyServerOptions): Promise<Listening> =>
  listen(
    createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1")
      void readBody(req)
        .then((body) => options.respond({ req, url, route: `${req.method} ${url.pathname}`, body }))
        .catch(() => options.malformed())
        .then(async (reply) => {
          await options.beforeReply?.(url)
          res.writeHead(reply.status, reply.headers)
          res.end(reply.body)
        })
    }),
    options.port
  )
