/**
 * Prints one closing line `N passed, N failed, N skipped` after the run. CI reads this plain line rather
 * than vitest's own summary, so the outcome of `npm test` is visible to any log reader.
 */
import type { Reporter, TestModule } from 'vitest/node'

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: readonly TestModule[], unhandledErrors: readonly unknown[]): void {
    let passed = 0
    let failed = unhandledErrors.length
    let skipped = 0
    for (const testModule of testModules) {
      let failedInModule = 0
      for (const testCase of testModule.children.allTests()) {
        const state = testCase.result().state
        if (state === 'passed') passed += 1
        else if (state === 'failed') failedInModule += 1
        else skipped += 1
      }
      // A module that failed outside its tests (import error, failing hook) counts as one failure.
      if (testModule.state() === 'failed' && failedInModule === 0) failedInModule = 1
      failed += failedInModule
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`)
  }
}
