/**
 * Test fixture: a fresh simulator per test file (or per test), closed afterwards, and small wire helpers that
 * keep the tests about behaviour rather than plumbing.
 */
import { afterEach } from 'vitest'
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/sim/index.js'

const running = new Set<Simulator>()

afterEach(async () => {
  await Promise.all([...running].map((sim) => sim.close()))
  running.clear()
})

/** Starts a simulator that is closed after the current test. */
export async function useSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator(options)
  running.add(sim)
  return sim
}

/** POSTs JSON and returns the response. */
export function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    redirect: 'manual',
  })
}

/** POSTs a form-encoded body and returns the response. */
export function postForm(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  })
}
