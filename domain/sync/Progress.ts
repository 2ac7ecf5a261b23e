/** What the status route shows of a running job, from its counts and clock. */
export interface Progress {
  readonly processed: number
  readonly total: number | null
  readonly percent: number | null
  readonly recordsPerSecond: number | null
  readonly etaSeconds: number | null
}

export const progressOf = (processed: number, total: number | null, startedAt: Date | null, now: Date): Progress => {
  const elapsed = startedAt === null ? 0 : (now.getTime() - startedAt.getTime()) / 1000
  const rate = elapsed > 0 ? processed / elapsed : null
  const percent = total === null || total === 0 ? null : Math.min(100, Math.round((processed / total) * 1000) / 10)
  const eta = total === null || rate === null || rate === 0 ? null : Math.max(0, Math.round((total - processed) / rate))
  return {
    processed,
    total,
    percent,
    recordsPerSecond: rate === null ? null : Math.round(rate * 10) / 10,
    etaSeconds: eta
  }
}
