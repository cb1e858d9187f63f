import type { TSchema } from '@sinclair/typebox'
import { type AnySchema, Ajv, type Options, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import fastUri from 'fast-uri'
import sjson from 'secure-json-parse'
import { AppError, badRequest, describeValidationError } from '../errors.js'
import { sharedSchemas } from './index.js'

/**
 * The one input contract of REST bodies and WebSocket payloads: JSON values are never coerced
 * (`"1"` or `true` where an integer belongs is refused), fields a schema doesn't name are dropped
 * (they never change anything), defaults are filled in. The same options as Fastify's own Ajv
 * (@fastify/ajv-compiler) but for coercion.
 */
const JSON_OPTIONS: Options = {
  coerceTypes: false,
  useDefaults: true,
  removeAdditional: true,
  uriResolver: fastUri,
  addUsedSchema: false,
  allErrors: false
}

/** Query strings and path parameters are text: they are read into numbers (and one-item lists). */
const TEXT_OPTIONS: Options = { ...JSON_OPTIONS, coerceTypes: 'array' }

/**
 * Adds the named schemas Ajv doesn't have yet (every app of the process adds the same ones).
 * Asked through `schemas`, not `getSchema`, which compiles the schema it finds: that compiled
 * every shared schema at every start, most of a second (bench/README, P8); each one is compiled
 * when a validator first needs it.
 */
function addNamed (ajv: Ajv, schemas: Iterable<AnySchema | AnySchema[]>, checked = true): void {
  for (const schema of schemas) {
    const id = typeof schema === 'object' && !Array.isArray(schema) ? schema.$id as string | undefined : undefined
    if (id !== undefined && ajv.schemas[id] === undefined) ajv.addSchema(schema, undefined, undefined, checked)
  }
}

/** `checked`: each schema is validated against the meta-schema as it is added (≈120 ms for the shared ones). */
function createAjv (options: Options, externals: Iterable<AnySchema | AnySchema[]>, checked = true): Ajv {
  const ajv = new Ajv(options)
  addFormats.default(ajv)
  addNamed(ajv, externals, checked)
  return ajv
}

/**
 * The validator of every JSON value that comes in (bodies and frames), shared by every app of the
 * process. The shared schemas are not checked against the meta-schema here: they are constants of
 * the code, checked once by test/schemas/validator.test.ts rather than at every start (≈60 ms,
 * bench/README P8).
 */
const json = createAjv(JSON_OPTIONS, sharedSchemas, false)

/** Integers in text must be written in plain decimal: `0x1`, `1e0`, `+1`, `01`, `1.0` and ` 1` are not integers. */
const DECIMAL = /^(?:0|[1-9][0-9]*)$/

type Properties = Record<string, { type?: unknown }>

/**
 * Wraps a query or params validator: before Ajv reads a text into a number, an integer field's
 * text must be plain decimal digits (Ajv's coercion takes anything `Number()` takes).
 */
function decimalIntegers (validate: ValidateFunction, schema: { properties?: Properties }): ValidateFunction {
  const integers = Object.entries(schema.properties ?? {}).filter(([, s]) => s.type === 'integer').map(([name]) => name)
  if (integers.length === 0) return validate
  const checked = ((data: Record<string, unknown>) => {
    for (const name of integers) {
      const value = data?.[name]
      const texts = Array.isArray(value) ? value : [value]
      if (texts.some(text => typeof text === 'string' && !DECIMAL.test(text))) {
        checked.errors = [{ instancePath: `/${name}`, schemaPath: '#/decimal', keyword: 'decimal', params: {} }]
        return false
      }
    }
    const ok = validate(data)
    checked.errors = validate.errors
    return ok
  }) as ValidateFunction
  return checked
}

/**
 * A validator compiled when it is first used rather than when it is made. Fastify reads
 * `schemaEnv` (to hand Ajv the parent of the value, so it may replace it) and `errors` from the
 * function it was given: both are read from the compiled one, which the first read compiles.
 */
function compiledOnUse (compileNow: () => ValidateFunction): ValidateFunction {
  let compiled: ValidateFunction | undefined
  const validate = () => (compiled ??= compileNow())
  const lazy = ((data: unknown, context?: Parameters<ValidateFunction>[1]) => validate()(data, context)) as ValidateFunction
  Object.defineProperties(lazy, {
    schemaEnv: { get: () => validate().schemaEnv },
    errors: { get: () => validate().errors }
  })
  return lazy
}

type HttpPart = 'body' | 'querystring' | 'params' | 'headers' | string

/**
 * Fastify's validator compiler (its `schemaController.compilersFactory.buildValidator`): bodies
 * through the shared JSON validator, query strings, params and headers through a coercing one.
 * Each route's validator is compiled at its first request, not when the app starts: compiling
 * them all took a quarter of a second of every start (bench/README, P8). Every route's
 * validators are still compiled by the tests, which send requests through them.
 */
export function buildValidator (externalSchemas: Record<string, AnySchema | AnySchema[]>): (route: { schema: AnySchema, httpPart?: HttpPart }) => ValidateFunction {
  const externals = Object.values(externalSchemas)
  addNamed(json, externals)
  // Those the JSON validator lacked (not the shared ones) it has just checked against the meta-schema.
  const text = createAjv(TEXT_OPTIONS, externals, false)
  return ({ schema, httpPart }) => compiledOnUse(() => {
    if (httpPart === 'body') return compile(json, schema)
    const validate = compile(text, schema)
    return httpPart === 'querystring' || httpPart === 'params' ? decimalIntegers(validate, schema as { properties?: Properties }) : validate
  })
}

function compile (ajv: Ajv, schema: AnySchema): ValidateFunction {
  const id = typeof schema === 'object' ? schema.$id as string | undefined : undefined
  return (id !== undefined ? ajv.getSchema(id) : undefined) ?? ajv.compile(schema)
}

/** A JSON validator for a schema (a WebSocket frame's payload), compiled at its first frame: throws 400 naming the first problem. */
export function jsonValidator<T> (schema: TSchema, context = 'payload'): (value: unknown) => T {
  const validate = compiledOnUse(() => compile(json, schema))
  return value => {
    if (!validate(value)) throw badRequest(describeValidationError(validate.errors![0]!, context))
    return value as T
  }
}

/**
 * Parses JSON text as Fastify's body parser does (secure-json-parse), for bodies and frames: a
 * `__proto__` or `constructor.prototype` key is refused (400, the same answer on both), never
 * turned into a prototype. `what` names the text when it is not JSON at all ("request body", "frame").
 */
export function parseJson (text: string, what: string, invalidCode: string): unknown {
  try {
    return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
  } catch (err) {
    if (err instanceof SyntaxError && /forbidden prototype property/.test(err.message)) {
      throw new AppError(400, '"__proto__" and "constructor.prototype" are not allowed as keys', 'FORBIDDEN_KEY')
    }
    throw badRequest(`${what} is not valid JSON`, invalidCode)
  }
}
