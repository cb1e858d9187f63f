/**
 * Rewrites the authorization matrix in SECURITY.md from the table the test asserts
 * (test/security/authorization-matrix.ts), between its markers. `npm run security:matrix`.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { renderMatrix } from '../test/security/authorization-matrix.js'

const file = new URL('../SECURITY.md', import.meta.url)
const text = readFileSync(file, 'utf8')
const START = '<!-- authorization-matrix:start -->'
const END = '<!-- authorization-matrix:end -->'
const start = text.indexOf(START)
const end = text.indexOf(END)
if (start < 0 || end < start) throw new Error(`SECURITY.md needs the markers ${START} and ${END}`)
writeFileSync(file, `${text.slice(0, start + START.length)}\n${renderMatrix()}\n${text.slice(end)}`)
console.log('SECURITY.md: authorization matrix rewritten')
