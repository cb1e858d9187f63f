import neostandard from 'neostandard'
import pluginSecurity from 'eslint-plugin-security'

/** eslint-plugin-security's recommended rules, as errors: `npm test` fails on a finding. */
const securityRules = Object.fromEntries(Object.keys(pluginSecurity.configs.recommended.rules).map(rule => [rule, 'error']))

export default [
  ...neostandard({ ts: true, ignores: ['node_modules', 'dist', 'dist.*', 'data', 'coverage', '.tap', 'sdk/src/*.d.ts', 'sdk/dist'] }),
  {
    plugins: pluginSecurity.configs.recommended.plugins,
    rules: {
      ...securityRules,
      // Noise here: it flags every `obj[key]`; the keys are typed (TypeScript) and request bodies
      // pass schemas with additionalProperties removed, so no user-chosen key reaches a sink.
      'security/detect-object-injection': 'off'
    }
  },
  {
    // Files whose paths come from the operator (DATA_DIR, .env, the repo's own files: the demo page's dist/web), never from a request
    // (the disk storage's file names are random keys the app made, checked by `isStorageKey`).
    files: ['db/embedded.ts', 'routes/web/index.ts', 'src/storage/disk.ts', 'src/config.ts', 'src/dotenv.ts', 'scripts/**', 'bench/**', 'test/**'],
    rules: { 'security/detect-non-literal-fs-filename': 'off' }
  },
  {
    // Tests build expected-value patterns from their own constants and match our own output.
    files: ['test/**'],
    rules: { 'security/detect-non-literal-regexp': 'off', 'security/detect-unsafe-regex': 'off' }
  }
]
