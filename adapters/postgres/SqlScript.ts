/**
 * Splits a SQL script into statements at top-level semicolons, leaving those
 * inside quotes, dollar-quoted bodies and comments alone. The driver speaks
 * the extended protocol, which takes one statement at a time.
 */
export const splitStatements = (script: string): ReadonlyArray<string> => {
  const statements: Array<string> = []
  let start = 0
  let i = 0
  const push = (end: number) => {
    const text = script.slice(start, end).trim()
    if (stripComments(text).trim() !== "") statements.push(text)
  }
  while (i < script.length) {
    const c = script[i]
    if (c === "-" && script[i + 1] === "-") {
      const nl = script.indexOf("\n", i)
      i = nl === -1 ? script.length : nl + 1
    } else if (c === "/" && script[i + 1] === "*") {
      const end = script.indexOf("*/", i + 2)
      i = end === -1 ? script.length : end + 2
    } else if (c === "'" || c === '"') {
      let j = i + 1
      while (j < script.length) {
        if (script[j] === c) {
          if (script[j + 1] === c) j += 2
          else break
        } else j++
      }
      i = j + 1
    } else if (c === "$") {
      const tag = /^\$[A-Za-z_]*\$/.exec(script.slice(i))?.[0]
      if (tag === undefined) i++
      else {
        const end = script.indexOf(tag, i + tag.length)
        i = end === -1 ? script.length : end + tag.length
      }
    } else if (c === ";") {
      push(i)
      start = i + 1
      i++
    } else i++
  }
  push(script.length)
  return statements
}

const stripComments = (text: string): string => text.replace(/--[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "")
