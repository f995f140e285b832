/**
 * `responsesToChatCompletion` over the completed responses of real simulator streams (text, reasoning, a
 * function call), then hand-made objects: refusal, incomplete, failed, malformed.
 */
import { describe, expect, it } from 'vitest'
import { responsesToChatCompletion } from '../../../src/proxy/chat-completions/index.js'
import { isBrokerError } from '../../../src/lib/index.js'
import { echoText } from '../../../src/sim/backend/answer.js'
import { completedResponse, exchange, MODEL, simSession, WEATHER_TOOL } from './sim-exchange.js'

describe('from the simulator', () => {
  it('maps a text answer with usage and cached tokens', async () => {
    const session = await simSession()
    const body = { model: MODEL, messages: [{ role: 'user', content: 'hi' }] }
    await exchange(session, body, { 'session-id': 's' })
    const response = completedResponse(await exchange(session, body, { 'session-id': 's' })) as {
      id: string
      created_at: number
      usage: {
        input_tokens: number
        output_tokens: number
        input_tokens_details: { cached_tokens: number }
      }
    }
    const completion = responsesToChatCompletion(response, { model: 'my-alias' })
    expect(completion).toMatchObject({
      id: `chatcmpl-${response.id.slice('resp_'.length)}`,
      object: 'chat.completion',
      created: response.created_at,
      model: 'my-alias',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: echoText('hi', 8), refusal: null },
          finish_reason: 'stop',
          logprobs: null,
        },
      ],
      usage: {
        prompt_tokens: response.usage.input_tokens,
        completion_tokens: response.usage.output_tokens,
        prompt_tokens_details: { cached_tokens: response.usage.input_tokens_details.cached_tokens },
      },
    })
    expect(completion.usage?.prompt_tokens_details.cached_tokens).toBeGreaterThan(0)
    expect(completion.choices[0].message).not.toHaveProperty('tool_calls')
  })

  it('maps a function call to tool_calls with finish_reason tool_calls', async () => {
    const session = await simSession()
    const response = completedResponse(
      await exchange(session, {
        model: MODEL,
        messages: [{ role: 'user', content: 'call get_weather {"city":"Rome"}' }],
        tools: [WEATHER_TOOL],
      }),
    )
    const completion = responsesToChatCompletion(response, {
      model: MODEL,
      id: 'chatcmpl-1',
      created: 5,
    })
    const [choice] = completion.choices
    expect(completion.id).toBe('chatcmpl-1')
    expect(completion.created).toBe(5)
    expect(choice.finish_reason).toBe('tool_calls')
    expect(choice.message.content).toBeNull()
    expect(choice.message.tool_calls).toHaveLength(1)
    const call = choice.message.tool_calls?.[0]
    expect(call?.id).toMatch(/^call_/)
    expect(call?.function).toEqual({ name: 'get_weather', arguments: '{"city":"Rome"}' })
  })

  it('keeps the reasoning summary only with includeReasoning', async () => {
    const session = await simSession()
    const response = completedResponse(
      await exchange(session, {
        model: MODEL,
        messages: [{ role: 'user', content: 'hm' }],
        reasoning_effort: 'low',
      }),
    )
    expect(
      responsesToChatCompletion(response, { model: MODEL }).choices[0].message,
    ).not.toHaveProperty('reasoning_content')
    const message = responsesToChatCompletion(response, { model: MODEL, includeReasoning: true })
      .choices[0].message
    expect(message.reasoning_content).toContain('Reading the request')
    expect(message.content).toBe(echoText('hm', 8))
  })
})

describe('hand-made responses', () => {
  it('maps a refusal and an incomplete response', () => {
    const completion = responsesToChatCompletion(
      {
        id: 'resp_x',
        status: 'incomplete',
        incomplete_details: { reason: 'max_output_tokens' },
        output: [{ type: 'message', content: [{ type: 'refusal', refusal: 'No.' }] }],
      },
      { model: 'm' },
    )
    expect(completion.choices[0].message).toEqual({
      role: 'assistant',
      content: null,
      refusal: 'No.',
    })
    expect(completion.choices[0].finish_reason).toBe('length')
    expect(completion).not.toHaveProperty('usage')
  })

  it('throws the upstream failure for status failed', () => {
    expect(() =>
      responsesToChatCompletion(
        { id: 'resp_x', status: 'failed', error: { code: 'server_error', message: 'bad' } },
        { model: 'm' },
      ),
    ).toThrow(/server_error/)
  })

  it('throws ERR_UPSTREAM_BAD_RESPONSE for something that is not a response', () => {
    try {
      responsesToChatCompletion({ output: 'nope' }, { model: 'm' })
      throw new Error('expected a throw')
    } catch (error) {
      expect(isBrokerError(error, 'ERR_UPSTREAM_BAD_RESPONSE')).toBe(true)
    }
  })
})
