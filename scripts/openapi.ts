// Writes openapi.yaml from the route schemas, and the SDK types generated from it: `npm run openapi`.
// test/openapi.test.ts fails when either file differs from what the code generates.
// The import of ./asyncapi.js writes asyncapi.yaml as well, so this one command regenerates every document.
import { writeFileSync } from 'node:fs'
import './asyncapi.js'
import { generateOpenApi } from '../src/docs/openapi.js'
import { generateSdkTypes, SDK_TYPES_FILE } from './sdk-types.js'

const file = new URL('../openapi.yaml', import.meta.url)
const yaml = await generateOpenApi()
writeFileSync(file, yaml)
console.log(`wrote ${file.pathname}`)
writeFileSync(SDK_TYPES_FILE, await generateSdkTypes(yaml))
console.log(`wrote ${SDK_TYPES_FILE.pathname}`)
