import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['node_modules', 'data', 'coverage', '.tap', 'test/sdk/openapi.d.ts'] })
]
