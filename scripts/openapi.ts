// Writes openapi.yaml from the route schemas: `npm run openapi`. The drift test compares the two.
import { writeFileSync } from 'node:fs'
import { generateOpenApi } from '../src/openapi.js'

const file = new URL('../openapi.yaml', import.meta.url)
writeFileSync(file, await generateOpenApi())
console.log(`wrote ${file.pathname}`)
