import { defineConfig } from 'tsdown'

/**
 * One ESM build for Node 20.19+. Each public subpath of package.json#exports is an entry, so the
 * published layout mirrors `src/` and the packed-artifact check can import every subpath.
 */
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    'sim/index': 'src/sim/index.ts',
    'cli/main': 'src/cli/main.ts',
  },
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  dts: true,
  sourcemap: false,
  clean: true,
  outDir: 'dist',
  // Plain .js/.d.ts names: the package is "type": "module", and the exports map names these files.
  outExtensions: () => ({ js: '.js', dts: '.d.ts' }),
})
