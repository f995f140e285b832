/**
 * Which models each ChatGPT plan may use through Codex. The real backend answers 400 "The 'X' model is not
 * supported when using Codex with a ChatGPT account." for a model outside the plan, and the lists differ by plan,
 * so the simulator keeps one small table: every plan gets the two base models, paid plans add the Codex-tuned and
 * newest models, and Pro alone adds the Pro model. API-key mode (`/v1/responses`) accepts every model here.
 */
import type { SimPlan } from '../types.js'

/** One entry of `GET /backend-api/codex/models`, shaped like the real listing. */
export interface SimModel {
  slug: string
  display_name: string
  description: string
  default_reasoning_level: 'low' | 'medium' | 'high'
  supported_reasoning_levels: { effort: string; description: string }[]
  visibility: 'list'
  supported_in_api: boolean
  priority: number
  context_window: number
}

const REASONING_LEVELS = [
  { effort: 'low', description: 'Fast responses with lighter reasoning' },
  { effort: 'medium', description: 'Balances speed and reasoning depth' },
  { effort: 'high', description: 'Greater reasoning depth for complex problems' },
]

function model(
  slug: string,
  displayName: string,
  description: string,
  priority: number,
  contextWindow: number,
): SimModel {
  return {
    slug,
    display_name: displayName,
    description,
    default_reasoning_level: 'medium',
    supported_reasoning_levels: REASONING_LEVELS,
    visibility: 'list',
    supported_in_api: true,
    priority,
    context_window: contextWindow,
  }
}

const BASE: readonly SimModel[] = [
  model('gpt-5.4', 'GPT-5.4', 'General-purpose model for everyday coding', 2, 272_000),
  model('gpt-5.4-mini', 'GPT-5.4 mini', 'Smaller, faster and cheaper', 3, 272_000),
]
const PAID: readonly SimModel[] = [
  ...BASE,
  model('gpt-5.4-codex', 'GPT-5.4-Codex', 'Optimised for agentic coding in Codex', 1, 272_000),
  model('gpt-5.5', 'GPT-5.5', 'The newest frontier model', 0, 400_000),
]
const PRO: readonly SimModel[] = [
  ...PAID,
  model('gpt-5.5-pro', 'GPT-5.5 Pro', 'Longest reasoning for the hardest problems', 4, 400_000),
]

/** The models of each plan, ordered by `priority` (the order the real listing uses). */
export const MODELS_BY_PLAN: Readonly<Record<SimPlan, readonly SimModel[]>> = {
  free: byPriority(BASE),
  go: byPriority(BASE),
  plus: byPriority(PAID),
  pro: byPriority(PRO),
  team: byPriority(PAID),
  business: byPriority(PAID),
  enterprise: byPriority(PAID),
  edu: byPriority(PAID),
}

const SLUGS_BY_PLAN = new Map<SimPlan, ReadonlySet<string>>(
  Object.entries(MODELS_BY_PLAN).map(([plan, models]) => [
    plan as SimPlan,
    new Set(models.map((entry) => entry.slug)),
  ]),
)

/** Every slug the simulator knows: what API-key mode accepts. */
export const ALL_MODEL_SLUGS: ReadonlySet<string> = new Set(PRO.map((entry) => entry.slug))

/** Whether `plan` may use `slug` through the Codex backend. */
export function planAllowsModel(plan: SimPlan, slug: string): boolean {
  return SLUGS_BY_PLAN.get(plan)?.has(slug) === true
}

function byPriority(models: readonly SimModel[]): readonly SimModel[] {
  return [...models].sort((a, b) => a.priority - b.priority)
}
