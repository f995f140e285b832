/**
 * Reads a V8 `.cpuprofile` (written by `node --cpu-prof`) and answers its functions ranked by self time: each
 * sample is charged to the function on top of the stack, summed per function (name, file, line) over all nodes.
 */
import { readFileSync } from 'node:fs'

/**
 * Answers `{ totalMs, busyMs, top: [{ name, where, ms, share, caller }] }`: the `count` largest by self time,
 * `(idle)` left out of the ranking and of `busyMs` (shares are of the busy time), `caller` the most expensive
 * chain of up to three callers above the function.
 */
export function topSelfTime(path, count = 15) {
  const profile = JSON.parse(readFileSync(path, 'utf8'))
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]))
  const parentOf = new Map()
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parentOf.set(child, node.id)
  const chain = (id) => {
    const names = []
    for (let at = parentOf.get(id); at !== undefined && names.length < 3; at = parentOf.get(at)) {
      const frame = byNode.get(at).callFrame
      if (frame.functionName === '(root)') break
      names.push(frame.functionName || '(anonymous)')
    }
    return names.join(' < ')
  }
  const selfUs = new Map()
  const { samples = [], timeDeltas = [] } = profile
  for (let index = 0; index < samples.length; index += 1) {
    // timeDeltas[i] is the time before sample i; charge the interval that follows it to sample i.
    const us = timeDeltas[index + 1] ?? 0
    selfUs.set(samples[index], (selfUs.get(samples[index]) ?? 0) + us)
  }
  const byFunction = new Map()
  let totalUs = 0
  let idleUs = 0
  for (const [id, us] of selfUs) {
    const frame = byNode.get(id)?.callFrame
    if (frame === undefined) continue
    totalUs += us
    if (frame.functionName === '(idle)') {
      idleUs += us
      continue
    }
    const name = frame.functionName || '(anonymous)'
    const file = frame.url
      ? frame.url.replace(/^file:\/\//, '').replace(/^.*\/(node_modules|dist)\//, '$1/')
      : ''
    const where = file ? `${file}:${frame.lineNumber + 1}` : ''
    const keyOf = `${name}|${where}`
    const entry = byFunction.get(keyOf) ?? { name, where, us: 0, callers: new Map() }
    entry.us += us
    const callers = chain(id)
    entry.callers.set(callers, (entry.callers.get(callers) ?? 0) + us)
    byFunction.set(keyOf, entry)
  }
  const top = [...byFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, count)
    .map((entry) => ({
      name: entry.name,
      where: entry.where,
      ms: entry.us / 1000,
      share: entry.us / (totalUs - idleUs),
      caller: [...entry.callers].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '',
    }))
  return { totalMs: totalUs / 1000, busyMs: (totalUs - idleUs) / 1000, top }
}
