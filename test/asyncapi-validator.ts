import { readFileSync } from 'node:fs'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import { parse } from 'yaml'

/**
 * Checks the frames the server sends against asyncapi.yaml: test/ws-client.ts runs every
 * frame a TestSocket receives through `checkServerFrame`. AsyncAPI 3 schemas are a superset of
 * JSON Schema draft-07, hence Ajv's draft-07 class.
 */

type Ref = { $ref: string }
type Doc = {
  operations?: Record<string, { action: string, messages?: Ref[] }>
  [key: string]: unknown
}

const DOC_ID = 'asyncapi.json'
const doc = parse(readFileSync(new URL('../asyncapi.yaml', import.meta.url), 'utf8')) as Doc
const ajv = new Ajv({ strict: false, allErrors: true })
addFormats.default(ajv)
ajv.addSchema({ ...doc, $id: DOC_ID })

/** Follows a local reference (`#/a/b`), and any reference it lands on, to the object and its final pointer. */
function follow (ref: string): { pointer: string, value: Record<string, unknown> } {
  let pointer = ref
  for (let hops = 0; hops < 10; hops++) {
    if (!pointer.startsWith('#/')) throw new Error(`asyncapi.yaml: only local references are supported, not ${pointer}`)
    let value: unknown = doc
    for (const part of pointer.slice(2).split('/')) {
      value = (value as Record<string, unknown> | undefined)?.[part.replaceAll('~1', '/').replaceAll('~0', '~')]
    }
    if (typeof value !== 'object' || value === null) throw new Error(`asyncapi.yaml: ${ref} resolves to nothing`)
    const next = (value as Partial<Ref>).$ref
    if (typeof next !== 'string') return { pointer, value: value as Record<string, unknown> }
    pointer = next
  }
  throw new Error(`asyncapi.yaml: ${ref} is a reference loop`)
}

/** Frame type -> the validator of the whole frame, for every message of a `send` operation (what the server sends). */
const serverFrames = new Map<string, ValidateFunction>()
for (const operation of Object.values(doc.operations ?? {})) {
  if (operation.action !== 'send') continue
  for (const { $ref } of operation.messages ?? []) {
    const { pointer, value: message } = follow($ref)
    if (typeof message.name !== 'string') throw new Error(`asyncapi.yaml: the message at ${pointer} has no name`)
    serverFrames.set(message.name, ajv.compile({ $ref: `${DOC_ID}${pointer}/payload` }))
  }
}

/** The frame types asyncapi.yaml says the server sends. */
export const serverFrameTypes: readonly string[] = [...serverFrames.keys()]

/**
 * Checks one text frame the server sent: it must be JSON `{"type", "payload"}` whose type is a
 * message the server sends in asyncapi.yaml, matching that message's payload schema. Returns a
 * description of the problem, or undefined.
 */
export function checkServerFrame (text: string): string | undefined {
  let frame: unknown
  try {
    frame = JSON.parse(text)
  } catch {
    return `a frame that is not JSON: ${text.slice(0, 120)}`
  }
  const type = (frame as { type?: unknown } | null)?.type
  const validate = typeof type === 'string' ? serverFrames.get(type) : undefined
  if (validate === undefined) {
    return `a frame of type ${JSON.stringify(type)}, which asyncapi.yaml does not list among the server's (${serverFrameTypes.join(', ')}): ${text.slice(0, 200)}`
  }
  return validate(frame) ? undefined : `a ${type} frame that does not match asyncapi.yaml: ${ajv.errorsText(validate.errors)} in ${text.slice(0, 300)}`
}
