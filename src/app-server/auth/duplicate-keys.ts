/**
 * Finds repeated member names in a JSON text. `JSON.parse` silently keeps the last of two equal
 * names, so a JWT header with `"alg"` twice (or a payload with `"aud"` twice) could mean one thing
 * to us and another to a different parser; RFC 7515 §5.2 lets a recipient reject such input, and
 * SECURITY.md JWT-17 asks us to. Names are compared after unescaping (`"a\u006cg"` is `"alg"`), at
 * every nesting depth.
 */

interface Container {
  /** The names seen so far; `null` for an array. */
  readonly names: Set<string> | null
  /** True when the next string in this object is a member name. */
  expectName: boolean
}

/** The index just past the closing quote of the string that starts at `start`. */
function endOfString(text: string, start: number): number {
  let index = start + 1
  while (index < text.length) {
    const char = text[index]
    if (char === '\\') index += 2
    else if (char === '"') return index + 1
    else index += 1
  }
  return text.length
}

/**
 * True when `json` (already known to parse with `JSON.parse`) has an object with two members of
 * the same name. Text that does not parse gives an unspecified answer: parse it first.
 *
 * @example
 * hasDuplicateKeys('{"alg":"HS256","alg":"none"}') // true
 * hasDuplicateKeys('{"a":{"b":1},"b":2}') // false
 * @see https://www.rfc-editor.org/rfc/rfc7515#section-5.2
 */
export function hasDuplicateKeys(json: string): boolean {
  const stack: Container[] = []
  let index = 0
  while (index < json.length) {
    const char = json[index]
    const top = stack.at(-1)
    if (char === '"') {
      const end = endOfString(json, index)
      if (top?.names && top.expectName) {
        const name = JSON.parse(json.slice(index, end)) as string
        if (top.names.has(name)) return true
        top.names.add(name)
        top.expectName = false
      }
      index = end
      continue
    }
    if (char === '{') stack.push({ names: new Set(), expectName: true })
    else if (char === '[') stack.push({ names: null, expectName: false })
    else if (char === '}' || char === ']') stack.pop()
    else if (char === ',' && top?.names) top.expectName = true
    index += 1
  }
  return false
}
