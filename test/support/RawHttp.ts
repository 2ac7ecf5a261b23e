import { connect } from "node:net"
import { Effect } from "effect"
import { HttpServer } from "effect/http"

export interface RawReply {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** Body bytes written before the reply arrived or the server closed the connection. */
  readonly sent: number
  readonly elapsedMs: number
  /** The server closed the connection after replying. */
  readonly closed: boolean
}

/**
 * One request over a plain socket whose body is written chunk by chunk (honouring back-pressure) until the whole
 * `bodyBytes` is sent, the reply arrives, or the server stops reading: shows whether a server answers before
 * reading a body, and how much of it it took. `declare` sends a Content-Length (of any size, true or not); without
 * it the body is chunked.
 */
export const rawRequest = (options: {
  readonly port: number
  readonly method: string
  readonly path: string
  readonly headers?: Readonly<Record<string, string>>
  readonly bodyBytes: number
  readonly declare?: number | undefined
  readonly timeoutMs?: number
}): Promise<RawReply> =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const socket = connect(options.port, "127.0.0.1")
    const chunk = Buffer.alloc(64 * 1024, "x")
    const crlf = Buffer.from("\r\n")
    const chunked = options.declare === undefined
    let sent = 0
    let received = Buffer.alloc(0)
    let replied = false
    let closedByServer = false
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no reply within ${options.timeoutMs ?? 10_000} ms after ${sent} body bytes`))
    }, options.timeoutMs ?? 10_000)

    const finish = () => {
      clearTimeout(timer)
      const text = received.toString("latin1")
      const headEnd = text.indexOf("\r\n\r\n")
      if (headEnd < 0) return reject(new Error(`no reply after ${sent} body bytes`))
      const [statusLine, ...lines] = text.slice(0, headEnd).split("\r\n")
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const at = line.indexOf(":")
        headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim()
      }
      let body = received.subarray(Buffer.byteLength(text.slice(0, headEnd + 4), "latin1")).toString("utf8")
      if (headers["transfer-encoding"] === "chunked") {
        let out = ""
        let rest = body
        for (;;) {
          const eol = rest.indexOf("\r\n")
          const size = Number.parseInt(rest.slice(0, eol), 16)
          if (!(size > 0)) break
          out += rest.slice(eol + 2, eol + 2 + size)
          rest = rest.slice(eol + 2 + size + 2)
        }
        body = out
      }
      resolve({
        status: Number(statusLine?.split(" ")[1]),
        headers,
        body,
        sent,
        elapsedMs: performance.now() - started,
        closed: closedByServer
      })
    }

    socket.on("data", (data: Buffer) => {
      replied = true
      received = Buffer.concat([received, data])
      const text = received.toString("latin1")
      const headEnd = text.indexOf("\r\n\r\n")
      if (headEnd < 0) return
      const length = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, headEnd))
      const complete =
        (length !== null && received.length >= headEnd + 4 + Number(length[1])) || /\r\n0\r\n\r\n$/.test(text)
      // Whether the server closes the connection: give it a moment after a complete reply.
      if (complete) setTimeout(() => socket.destroy(), 200)
    })
    socket.on("end", () => {
      closedByServer = true
      socket.destroy()
    })
    socket.on("close", finish)
    socket.on("error", () => {})
    socket.on("connect", () => {
      const head = [
        `${options.method} ${options.path} HTTP/1.1`,
        "host: 127.0.0.1",
        chunked ? "transfer-encoding: chunked" : `content-length: ${options.declare}`,
        ...Object.entries(options.headers ?? {}).map(([k, v]) => `${k}: ${v}`)
      ].join("\r\n")
      socket.write(`${head}\r\n\r\n`)
      // One chunk per turn of the event loop, as a real client interleaves reading: a reply that arrives while the
      // body is still being written is read before the server's close could reset the connection under it.
      const pump = () => {
        if (replied || socket.destroyed) return
        if (sent >= options.bodyBytes) return void (chunked && socket.write("0\r\n\r\n"))
        const piece = chunk.subarray(0, Math.min(chunk.length, options.bodyBytes - sent))
        sent += piece.length
        const ok = socket.write(
          chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, crlf]) : piece
        )
        if (ok) setImmediate(pump)
        else socket.once("drain", pump)
      }
      pump()
    })
  })

/** The port of the in-process test server. */
export const serverPort = Effect.gen(function* () {
  const { address } = yield* HttpServer.HttpServer
  return "port" in address ? address.port : 0
})
