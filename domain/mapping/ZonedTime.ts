/**
 * Wall-clock time in an IANA time zone ↔ instants, with the runtime's Intl
 * data (pure computation, no I/O). Formatters are built once per zone.
 */
const formatters = new Map<string, Intl.DateTimeFormat>()

export const isTimeZone = (zone: string): boolean => {
  try {
    formatterOf(zone)
    return true
  } catch {
    return false
  }
}

const formatterOf = (zone: string): Intl.DateTimeFormat => {
  let formatter = formatters.get(zone)
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit"
    })
    formatters.set(zone, formatter)
  }
  return formatter
}

/** The zone's offset from UTC at an instant, in milliseconds. */
export const offsetAt = (zone: string, epochMs: number): number => {
  if (zone === "UTC") return 0
  const parts: Record<string, number> = {}
  for (const part of formatterOf(zone).formatToParts(new Date(epochMs))) {
    if (part.type !== "literal") parts[part.type] = Number(part.value)
  }
  const wall = Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!)
  return wall - (epochMs - (((epochMs % 1000) + 1000) % 1000))
}

/** The instant a wall-clock time (as if it were UTC milliseconds) denotes in the zone. */
export const instantOfWallClock = (zone: string, wallMs: number): number => {
  const guess = wallMs - offsetAt(zone, wallMs)
  return wallMs - offsetAt(zone, guess)
}

/** The wall-clock time (as UTC fields) of an instant in the zone. */
export const wallClockOf = (zone: string, epochMs: number): Date => new Date(epochMs + offsetAt(zone, epochMs))
