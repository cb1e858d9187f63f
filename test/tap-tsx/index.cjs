// A tap plugin that loads the test files through tsx (esbuild), in place of tap's default
// @tapjs/typescript (ts-node over TypeScript's compiler, loaded again in every test process).
// An import loader rather than a `node-arg`: tap puts a plugin's loader before its coverage hook
// (@tapjs/processinfo); after it, `npm run test:coverage` saw the test file alone. (@tapjs/tsx does
// the same, but its release pins @tapjs/core 4.5.8 as a peer and tap 21.8 brings 4.6.0.)
'use strict'
exports.importLoader = 'tsx'
exports.testFileExtensions = ['ts']
exports.plugin = () => ({})
