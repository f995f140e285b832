import { configDefaults, defineConfig } from 'vitest/config'

/**
 * Two groups: every test file in parallel, then the multi-process soak tests on their own, so the 16-process
 * refresh battery neither slows the other tests nor is skewed by them on a 2-core machine.
 */
const soak = ['test/tokens/rt-multiprocess.test.ts']

export default defineConfig({
  test: {
    testTimeout: 20_000,
    hookTimeout: 20_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'main',
          include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
          exclude: [...configDefaults.exclude, ...soak],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'soak', include: soak, sequence: { groupOrder: 1 } },
      },
    ],
  },
})
