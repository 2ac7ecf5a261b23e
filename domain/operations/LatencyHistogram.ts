/**
 * Latency histograms with fixed bucket edges (ms), the same as migration 0012 documents: `counts[i]` is the calls
 * with latency <= `latencyEdges[i]` and above the previous edge; the last element counts those above the last edge.
 * Histograms add element by element, so per-minute rows can be summed over any range and still estimate percentiles.
 */
export const latencyEdges: ReadonlyArray<number> = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]

export const bucketCount = latencyEdges.length + 1

export const emptyHistogram = (): Array<number> => new Array<number>(bucketCount).fill(0)

/** The bucket a latency falls in. */
export const bucketOf = (latencyMs: number): number => {
  for (let i = 0; i < latencyEdges.length; i++) if (latencyMs <= (latencyEdges[i] as number)) return i
  return latencyEdges.length
}

/** a + b element by element; a shorter array counts 0 where it has no element. */
export const addHistograms = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): Array<number> =>
  Array.from({ length: Math.max(a.length, b.length) }, (_, i) => (a[i] ?? 0) + (b[i] ?? 0))

/**
 * The q-quantile (0 < q <= 1) estimated from bucket counts: the bucket holding the call of rank ceil(q × n), and a
 * linear interpolation by rank inside it. The last bucket is closed by `maxMs`, the slowest call seen, and no estimate
 * exceeds it. The estimate lies in the same bucket as the exact quantile, so it is off by at most that bucket's width.
 * `null` without calls.
 */
export const percentile = (counts: ReadonlyArray<number>, q: number, maxMs: number): number | null => {
  const total = counts.reduce((sum, n) => sum + n, 0)
  if (total === 0) return null
  const rank = Math.max(1, Math.ceil(q * total))
  let before = 0
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] ?? 0
    if (n > 0 && before + n >= rank) {
      const lower = i === 0 ? 0 : (latencyEdges[i - 1] as number)
      const upper = i < latencyEdges.length ? Math.min(latencyEdges[i] as number, Math.max(maxMs, lower)) : maxMs
      const top = Math.max(lower, upper)
      return Math.min(maxMs, lower + ((top - lower) * (rank - before)) / n)
    }
    before += n
  }
  return maxMs
}
