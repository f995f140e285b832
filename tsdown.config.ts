import { defineConfig } from 'tsdown'

/**
 * Three builds. The first: one ESM build for Node 20.19+. Each public subpath of package.json#exports is an entry,
 * so the published layout mirrors `src/` and the packed-artifact check can import every subpath. The second: the
 * browser-only `codex-broker/react` (`dist/react/index.js` + `index.d.ts`), type-checked against
 * tsconfig.react.json (DOM lib, no Node globals), with React left to the application. The third: the page of
 * `codex-broker web` and the demo, with React bundled in.
 */
export default defineConfig([
  {
    entry: {
      index: 'src/index.ts',
      'sim/index': 'src/sim/index.ts',
      'cli/main': 'src/cli/main.ts',
      'web/adapters/node': 'src/web/adapters/node.ts',
      'web/adapters/express': 'src/web/adapters/express.ts',
      'web/adapters/hono': 'src/web/adapters/hono.ts',
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
  },
  {
    entry: { index: 'src/react/index.ts' },
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    tsconfig: 'tsconfig.react.json',
    dts: true,
    sourcemap: false,
    clean: true,
    outDir: 'dist/react',
    deps: { neverBundle: ['react', 'react-dom', /^react\//, /^react-dom\//] },
    outExtensions: () => ({ js: '.js', dts: '.d.ts' }),
  },
  {
    // The page `codex-broker web` serves: the component with React bundled in, one minified file, no types.
    entry: { app: 'src/web-page/demo-app.tsx' },
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    tsconfig: 'tsconfig.react.json',
    dts: false,
    sourcemap: false,
    clean: true,
    minify: true,
    outDir: 'dist/web-page',
    define: { 'process.env.NODE_ENV': '"production"' },
    deps: { alwaysBundle: [/^react/, 'scheduler'], onlyBundle: false },
    outExtensions: () => ({ js: '.js' }),
  },
])
