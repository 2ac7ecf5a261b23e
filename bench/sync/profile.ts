/** A V8 CPU profile as `node --cpu-prof` writes it. */
export interface Profile {
  readonly nodes: ReadonlyArray<{
    readonly id: number
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
    readonly children?: ReadonlyArray<number>
  }>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/**
 * The components a sample is charged to, most specific first: a sample whose stack holds any frame of a component
 * goes to the first such component in this list (a JSON.parse inside the Stripe SDK is the SDK's; Effect's fiber
 * loop running the mapping is mapping). Native work (JSON.parse, JSON.stringify) shows as its caller's self time.
 */
const components: ReadonlyArray<readonly [string, (url: string, name: string) => boolean]> = [
  ["mapping (domain/mapping)", (url) => url.includes("/domain/mapping/")],
  ["stripe SDK (request, JSON parse)", (url) => url.includes("/node_modules/stripe/")],
  ["provider adapter (QuickBooks JSON parse, records)", (url) => url.includes("/adapters/providers/")],
  ["pg driver (protocol, result parsing)", (url) => /\/node_modules\/(pg|pg-protocol|pg-types|pg-pool)\//.test(url)],
  [
    "SQL adapters (statements, JSON.stringify of pages)",
    (url) => url.includes("/adapters/postgres/") || url.includes("/@effect/sql-pg/") || url.includes("/unstable/sql/")
  ],
  ["HTTP client (undici fetch, node:http)", (url) => url.includes("undici") || url.includes("node:_http_")],
  ["sync engine (application/sync)", (url) => url.includes("/application/sync/")],
  ["Effect runtime", (url) => url.includes("/node_modules/effect/")],
  ["node internals (streams, sockets, timers)", (url) => url.startsWith("node:")],
  ["garbage collector", (_url, name) => name === "(garbage collector)"],
  ["(program)", (_url, name) => name === "(program)"]
]
const other = "other"

/**
 * The profile's samples inside `window` (microseconds of the monotonic clock, the one V8's profiler and
 * `process.hrtime` share on Linux), as milliseconds per component, plus the top functions by self time.
 */
export const splitProfile = (profile: Profile, window: readonly [number, number]) => {
  const parent = new Map<number, number>()
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const rank = new Map<number, number>()
  const rankOf = (id: number): number => {
    const known = rank.get(id)
    if (known !== undefined) return known
    const { url, functionName } = byId.get(id)!.callFrame
    const own = components.findIndex(([, test]) => test(url, functionName))
    const up = parent.get(id)
    const inherited = up === undefined ? -1 : rankOf(up)
    const best = [own, inherited].filter((r) => r >= 0).reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY)
    const result = best === Number.POSITIVE_INFINITY ? -1 : best
    rank.set(id, result)
    return result
  }
  const totals: Record<string, number> = {}
  const self = new Map<string, number>()
  let at = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0
    if (at < window[0] || at > window[1]) continue
    const id = profile.samples[i]!
    const frame = byId.get(id)!.callFrame
    if (frame.functionName === "(idle)") continue
    // The sample's time is the gap to the next sample.
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000
    const r = rankOf(id)
    const name = r < 0 ? other : components[r]![0]
    totals[name] = (totals[name] ?? 0) + ms
    const key = `${frame.functionName || "(anonymous)"} ${frame.url.replace(/^.*\/(node_modules\/)?/, "")}:${frame.lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + ms)
  }
  const top = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([fn, ms]) => `${ms.toFixed(0).padStart(6)} ms  ${fn}`)
  const ordered = Object.fromEntries(Object.entries(totals).sort((a, b) => b[1] - a[1]))
  return { components: ordered, top }
}
