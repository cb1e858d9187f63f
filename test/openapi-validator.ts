import { readFileSync } from 'node:fs'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { parse } from 'yaml'

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>> }

const doc = parse(readFileSync(new URL('../openapi.yaml', import.meta.url), 'utf8')) as Doc
const ajv = new Ajv2020({ strict: false, allErrors: true })
addFormats.default(ajv)
ajv.addSchema({ ...doc, $id: 'openapi.json' })
const compiled = new Map<string, ValidateFunction>()

const pointer = (...parts: string[]): string => parts.map(p => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')

/**
 * Checks one response against openapi.yaml: the route and status must be documented and the JSON
 * body must match the documented schema. Returns a description of the problem, or undefined.
 * `route` is Fastify's pattern (`/api/v1/users/:id`), undefined for the not-found handler.
 */
export function checkResponse (method: string, route: string | undefined, status: number, body: string): string | undefined {
  if (route === undefined) {
    // The not-found handler: any path, always the Error shape (429 once the address has spent its global budget).
    return status === 404 || status === 429 ? checkAgainst('#/components/schemas/Error', body) : `unrouted ${method} answered ${status}`
  }
  // @fastify/cors's catch-all OPTIONS route: a refused preflight is the Error shape (a granted one has no body).
  if (method === 'OPTIONS' && route === '*') return checkAgainst('#/components/schemas/Error', body)
  if (route.startsWith('/docs')) return undefined // Swagger UI and the served document itself
  const path = route.replace(/:(\w+)/g, '{$1}')
  const operation = doc.paths[path]?.[method.toLowerCase()]
  if (operation === undefined) return `${method} ${path} is not in openapi.yaml`
  const response = operation.responses[String(status)]
  if (response === undefined) return `${method} ${path} answered ${status}, which openapi.yaml does not list`
  if (response.content?.['application/json'] === undefined) return undefined
  return checkAgainst(`openapi.json#/${pointer('paths', path, method.toLowerCase(), 'responses', String(status), 'content', 'application/json', 'schema')}`, body, `${method} ${path} ${status}`)
}

function checkAgainst (ref: string, body: string, label = ref): string | undefined {
  const key = ref.startsWith('#') ? `openapi.json${ref}` : ref
  let validate = compiled.get(key)
  if (validate === undefined) {
    validate = ajv.compile({ $ref: key })
    compiled.set(key, validate)
  }
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    return `${label}: body is not JSON: ${body.slice(0, 80)}`
  }
  return validate(json) ? undefined : `${label}: ${ajv.errorsText(validate.errors)} in ${body.slice(0, 200)}`
}
