// Writes asyncapi.yaml (the WebSocket protocol, AsyncAPI 3) from the frame schemas: `npm run asyncapi`.
// scripts/openapi.ts imports this file, so `npm run openapi` writes it too.
// test/asyncapi.test.ts fails when the file differs from what the code generates.
import { writeFileSync } from 'node:fs'
import { generateAsyncApi } from '../src/docs/asyncapi.js'
import { generateFrameTypes, SDK_FRAMES_FILE } from './sdk-frames.js'

const file = new URL('../asyncapi.yaml', import.meta.url)
const yaml = generateAsyncApi()
writeFileSync(file, yaml)
console.log(`wrote ${file.pathname}`)
writeFileSync(SDK_FRAMES_FILE, await generateFrameTypes(yaml))
console.log(`wrote ${SDK_FRAMES_FILE.pathname}`)
