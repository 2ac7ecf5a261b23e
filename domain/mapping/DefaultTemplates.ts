import { Schema } from "effect"
import { EntityType } from "../canonical/EntityType.ts"
import type { Provider } from "../Provider.ts"
import type { Direction, Rule } from "./Rule.ts"
import { Rules } from "./Rule.ts"
import mailchimp from "./templates/mailchimp.json" with { type: "json" }
import quickbooks from "./templates/quickbooks.json" with { type: "json" }
import square from "./templates/square.json" with { type: "json" }
import stripe from "./templates/stripe.json" with { type: "json" }

export const VenueType = Schema.Literals(["general", "theatre", "music", "sports"])
export type VenueType = typeof VenueType.Type

/** A built-in template: the reviewed default rules of one provider × entity × direction for one venue type. */
export interface BuiltInTemplate {
  readonly provider: Provider
  readonly entityType: EntityType
  readonly direction: Direction
  readonly venueType: VenueType
  /** `general`, `theatre`, … — unique per provider × entity × direction. */
  readonly name: string
  readonly rules: ReadonlyArray<Rule>
}

/** `{ <entity>: { <direction>: { rules, variants?: { <venue type>: rules } } } }`; absent pairs are unsupported. */
const TemplateFile = Schema.Record(
  Schema.String.check(Schema.isPattern(new RegExp(`^(${EntityType.literals.join("|")})$`))),
  Schema.Record(
    Schema.String.check(Schema.isPattern(/^(inbound|outbound)$/)),
    Schema.Struct({
      rules: Rules,
      variants: Schema.optionalKey(
        Schema.Record(Schema.String.check(Schema.isPattern(/^(theatre|music|sports)$/)), Rules)
      )
    })
  )
)

/** A variant's rules replace the general rules writing the same target and add the rest. */
const withVariant = (general: ReadonlyArray<Rule>, variant: ReadonlyArray<Rule>): ReadonlyArray<Rule> => {
  const replaced = new Map(variant.map((r) => [r.target, r]))
  const kept = general.map((r) => replaced.get(r.target) ?? r)
  const added = variant.filter((r) => !general.some((g) => g.target === r.target))
  return [...kept, ...added]
}

const files: Record<Provider, unknown> = { stripe, square, quickbooks, mailchimp }

/** Every built-in template, expanded from the data files in templates/ (decoded, so a malformed file fails at start). */
export const builtInTemplates: ReadonlyArray<BuiltInTemplate> = Object.entries(files).flatMap(([provider, raw]) => {
  const file = Schema.decodeUnknownSync(TemplateFile)(raw)
  return Object.entries(file).flatMap(([entityType, directions]) =>
    Object.entries(directions ?? {}).flatMap(([direction, template]) =>
      VenueType.literals.map(
        (venueType): BuiltInTemplate => ({
          provider: provider as Provider,
          entityType: entityType as EntityType,
          direction: direction as Direction,
          venueType,
          name: venueType,
          rules:
            venueType === "general"
              ? template!.rules
              : withVariant(template!.rules, template!.variants?.[venueType] ?? [])
        })
      )
    )
  )
})

/** The general template of a pair, the one `reset` goes back to. */
export const defaultTemplate = (provider: Provider, entityType: EntityType, direction: Direction) =>
  builtInTemplates.find(
    (t) => t.provider === provider && t.entityType === entityType && t.direction === direction && t.name === "general"
  )
