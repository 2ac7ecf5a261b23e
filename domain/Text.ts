import { Schema } from "effect"

/**
 * Text PostgreSQL stores exactly as given. A NUL is refused by `text` columns (an error, were it to reach SQL), and a
 * lone UTF-16 surrogate cannot be encoded as UTF-8 (it would be stored as U+FFFD, silently changed). Every string
 * from outside that can reach the database passes this check first.
 */
export const isStorableText = Schema.makeFilter((s: string) => !s.includes("\u0000") && s.isWellFormed(), {
  expected: "text without NUL characters or unpaired UTF-16 surrogates"
})

export const StorableText = Schema.String.check(isStorableText)
