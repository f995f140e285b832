/**
 * `codex-broker/sim`: a faithful local stand-in for auth.openai.com, the ChatGPT Codex backend and the OpenAI API.
 * Production code never imports it; tests, the demo and the benchmarks do.
 */
export { startSimulator, DEFAULT_SIM_CONFIG, DEFAULT_CALLBACK_PORTS } from './start-simulator.js'
export type { Simulator, SimulatorOptions } from './start-simulator.js'
export { SimControl, SimControlError } from './control.js'
export { CODEX_CLIENT_ID, CODEX_SCOPE } from './state.js'
export { SIM_PLANS, SIM_FAULT_KINDS } from './types.js'
export type {
  SimAccountSummary,
  SimConfig,
  SimCounters,
  SimFault,
  SimFaultKind,
  SimPlan,
  SimQuota,
  SimRecordedRequest,
} from './types.js'
