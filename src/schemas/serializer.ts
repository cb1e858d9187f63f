import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'

type Factory = ReturnType<typeof SerializerSelector>

/**
 * Fastify's own serializer compiler (fast-json-stringify, its `schemaController.compilersFactory
 * .buildSerializer`), except that a route's response serializer is built when that route first
 * answers with that status, not when the app starts. Built at start, every one of them checked
 * every shared schema again (fast-json-stringify validates the external schemas per build): most
 * of a second of CPU before the first request (bench/README, P8). Every route's serializers are
 * still built by the tests, which answer through them.
 */
export function buildSerializer (...factoryArgs: Parameters<Factory>): ReturnType<Factory> {
  const compile = SerializerSelector()(...factoryArgs)
  return route => {
    let serialize: ReturnType<ReturnType<Factory>> | undefined
    return data => (serialize ??= compile(route))(data)
  }
}
