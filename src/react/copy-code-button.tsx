/**
 * The Copy button next to the user code: writes the code with `navigator.clipboard.writeText` and says whether it
 * worked. A browser without the Clipboard API (or one that refuses it) gets "Copy failed", never an exception.
 */
import { useState, type ReactNode } from 'react'

/** Props of {@link CopyCodeButton}. */
export interface CopyCodeButtonProps {
  readonly code: string
}

type CopyState = 'idle' | 'copied' | 'failed'

const LABELS: Readonly<Record<CopyState, string>> = {
  idle: 'Copy',
  copied: 'Copied',
  failed: 'Copy failed',
}

/**
 * A button that copies `code` to the clipboard.
 * @example
 * <CopyCodeButton code={state.userCode} />
 */
export function CopyCodeButton({ code }: CopyCodeButtonProps): ReactNode {
  const [copy, setCopy] = useState<CopyState>('idle')
  const onClick = (): void => {
    const clipboard: Clipboard | undefined = (navigator as Partial<Navigator>).clipboard
    if (clipboard === undefined) {
      setCopy('failed')
      return
    }
    clipboard.writeText(code).then(
      () => {
        setCopy('copied')
      },
      () => {
        setCopy('failed')
      },
    )
  }
  return (
    <button
      type="button"
      className="codex-auth-copy"
      data-testid="codex-auth-copy"
      aria-label="Copy the code"
      onClick={onClick}
    >
      {LABELS[copy]}
    </button>
  )
}
