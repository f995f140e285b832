/**
 * The signed-in part of the default UI: a prompt, a Send button and the streamed answer. The answer is rendered
 * as React text (a text node), never as HTML, so markup in a model's answer (`<img onerror=…>`) shows as the
 * characters it is made of. Errors show their message; an aborted run (the component went away) shows nothing.
 */
import { useId, useState, type ReactNode, type SyntheticEvent } from 'react'
import { isAbortError } from './errors.js'
import type { UseCodexAuthResult } from './types.js'

/** Props of {@link PromptForm}. */
export interface PromptFormProps {
  readonly run: UseCodexAuthResult['run']
  /** The model to ask for; the broker's default when absent. */
  readonly model?: string
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : 'The request failed.'
}

/**
 * A prompt box that streams the answer below it.
 * @example
 * <PromptForm run={auth.run} model="gpt-5" />
 */
export function PromptForm({ run, model }: PromptFormProps): ReactNode {
  const id = useId()
  const [prompt, setPrompt] = useState('')
  const [answer, setAnswer] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [running, setRunning] = useState(false)

  const onSubmit = (event: SyntheticEvent<HTMLFormElement>): void => {
    event.preventDefault()
    if (running || prompt.trim() === '') return
    setAnswer('')
    setError(null)
    setRunning(true)
    const onText = (delta: string): void => {
      setAnswer((text) => text + delta)
    }
    run(prompt, model === undefined ? { onText } : { onText, model })
      .then(
        (result) => {
          setAnswer(result.text)
        },
        (failure: unknown) => {
          if (!isAbortError(failure)) setError(errorMessage(failure))
        },
      )
      .finally(() => {
        setRunning(false)
      })
  }

  return (
    <form className="codex-auth-prompt-form" onSubmit={onSubmit}>
      <label className="codex-auth-prompt-label" htmlFor={`${id}-prompt`}>
        Prompt
      </label>
      <textarea
        id={`${id}-prompt`}
        className="codex-auth-prompt"
        data-testid="codex-auth-prompt"
        rows={4}
        value={prompt}
        onChange={(event) => {
          setPrompt(event.target.value)
        }}
      />
      <button
        type="submit"
        className="codex-auth-send"
        data-testid="codex-auth-send"
        disabled={running}
      >
        Send
      </button>
      {error !== null && (
        <p className="codex-auth-error" data-testid="codex-auth-run-error" role="alert">
          {error}
        </p>
      )}
      <output
        className="codex-auth-answer"
        data-testid="codex-auth-answer"
        aria-live="polite"
        aria-busy={running}
        style={{ display: 'block', whiteSpace: 'pre-wrap' }}
      >
        {answer}
      </output>
    </form>
  )
}
