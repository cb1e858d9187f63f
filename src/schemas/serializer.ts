import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'

type Factory = ReturnType<typeof SerializerSelector>
type Schema = Record<string, unknown>

/**
 * A schema of one scalar type (`Type.String`, `Type.Integer`, …) with no alternatives, composition
 * or fixed values of its own (in a type list, fast-json-stringify writes a `const` for any value
 * but null, a wrong one included: a nullable literal stays an `anyOf`).
 */
function isScalar (schema: unknown): schema is Schema & { type: string } {
  if (schema === null || typeof schema !== 'object') return false
  const s = schema as Schema
  return typeof s.type === 'string' && s.type !== 'object' && s.type !== 'array' && s.type !== 'null' &&
    s.$ref === undefined && s.anyOf === undefined && s.oneOf === undefined && s.allOf === undefined &&
    s.const === undefined && s.enum === undefined
}

const isNull = (schema: unknown): boolean =>
  schema !== null && typeof schema === 'object' && (schema as Schema).type === 'null' && Object.keys(schema).length === 1

/**
 * The schema as fast-json-stringify is given it: every `anyOf` of one scalar schema and `null`
 * (TypeBox's `Type.Union([X, Type.Null()])`, our nullable fields) becomes X with `type: [X.type, 'null']`.
 * The same JSON comes out; the difference is the cost. fast-json-stringify serializes an `anyOf`
 * by running Ajv on the value against each alternative in turn, and an alternative that fails
 * builds Ajv's error objects: for a Message with its four usual nulls, four failed validations,
 * 80 for a search page. A type list is a `=== null` test. The OpenAPI document, built from the
 * schemas as written, keeps the `anyOf`. (Values are not checked against the scalar's bounds
 * either way for fields that are not nullable; now the nullable ones are treated the same.)
 */
export function forSerializer<T> (schema: T): T {
  if (Array.isArray(schema)) return schema.map(forSerializer) as T
  if (schema === null || typeof schema !== 'object') return schema
  const out: Schema = {}
  for (const [key, value] of Object.entries(schema)) out[key] = forSerializer(value)
  const alternatives = out.anyOf
  if (Array.isArray(alternatives) && alternatives.length === 2) {
    const [a, b] = alternatives as unknown[]
    const value = isNull(b) ? a : isNull(a) ? b : undefined
    if (isScalar(value)) {
      const { anyOf: _anyOf, ...siblings } = out
      return { ...siblings, ...value, type: [value.type, 'null'] } as T
    }
  }
  return out as T
}

/**
 * Fastify's own serializer compiler (fast-json-stringify, its `schemaController.compilersFactory
 * .buildSerializer`), with two changes:
 * - a route's response serializer is built when that route first answers with that status, not
 *   when the app starts. Built at start, every one of them checked every shared schema again
 *   (fast-json-stringify validates the external schemas per build): most of a second of CPU
 *   before the first request (bench/README, P8). Every route's serializers are still built by the
 *   tests, which answer through them;
 * - the schemas are read through `forSerializer` (nullable fields without Ajv), the shared ones
 *   once, at the first build.
 */
export function buildSerializer (externalSchemas: Parameters<Factory>[0], options: Parameters<Factory>[1]): ReturnType<Factory> {
  let compile: ReturnType<Factory> | undefined
  return route => {
    let serialize: ReturnType<ReturnType<Factory>> | undefined
    return data => {
      if (serialize === undefined) {
        compile ??= SerializerSelector()(forSerializer(externalSchemas), options)
        serialize = compile({ ...route, schema: forSerializer(route.schema) })
      }
      return serialize(data)
    }
  }
}
