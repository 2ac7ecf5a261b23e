import { connect, createServer, type Server, type Socket } from "node:net"
import { Context, Effect, Layer } from "effect"

/**
 * A loopback TCP proxy that a test can cut and restore, to make a real
 * server unreachable without stopping it for everyone else.
 */
export interface TcpProxy {
  readonly port: number
  /** Drops every open connection and refuses new ones. */
  readonly cut: () => void
  readonly restore: () => void
}

export class TestTcpProxy extends Context.Service<TestTcpProxy, TcpProxy>()("integration-service/test/TcpProxy") {
  static readonly layer = (target: { readonly host: string; readonly port: number }) =>
    Layer.effect(
      TestTcpProxy,
      Effect.acquireRelease(
        Effect.promise(
          () =>
            new Promise<TcpProxy & { readonly server: Server }>((resolve) => {
              let up = true
              const open = new Set<Socket>()
              const server = createServer((client) => {
                if (!up) return client.destroy()
                const upstream = connect(target.port, target.host)
                open.add(client).add(upstream)
                const close = () => {
                  client.destroy()
                  upstream.destroy()
                  open.delete(client)
                  open.delete(upstream)
                }
                client.pipe(upstream).pipe(client)
                client.on("error", close).on("close", close)
                upstream.on("error", close).on("close", close)
              })
              server.listen(0, "127.0.0.1", () => {
                const address = server.address()
                resolve({
                  server,
                  port: typeof address === "object" && address ? address.port : 0,
                  cut: () => {
                    up = false
                    for (const socket of open) socket.destroy()
                  },
                  restore: () => {
                    up = true
                  }
                })
              })
            })
        ),
        ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
      )
    )
}
