import { CompiledQuery, type Compilable } from 'kysely'

/** What a statement is built with once in place of a value, to find where the value goes (see `StatementCache`). */
class Placeholder {
  constructor (readonly key: string) {}
}

interface Template {
  sql: string
  /** Per parameter: the value's key, or a constant the statement itself holds (`offset 0`). */
  parameters: Array<{ key: string } | { constant: unknown }>
}

/**
 * Statements compiled once per shape. Building and compiling a statement the size of a search with
 * Kysely costs ~0.35 ms of CPU, a sixth of the whole search request (bench P12's profile), and
 * the same text comes out every time for the same shape: which parts the statement has (filters,
 * sort, cursor, how many pieces), while what a request asks for travels as parameters.
 *
 * `build` makes the statement from a shape and values, using every value as a parameter only,
 * never computing with one (what needs computing is computed before, into the values). The first
 * `compile` of a shape builds it with a placeholder for each value and remembers where each one
 * went; later ones only fill the values in. test/db/statement-cache.test.ts compares the two ways
 * for every kind of search.
 */
export class StatementCache<S, V extends Record<string, unknown>> {
  private readonly templates = new Map<string, Template>()

  /** `max`: shapes kept (the oldest is forgotten first); a search's shapes are few, but `q` decides some. */
  constructor (private readonly build: (shape: S, values: V) => Compilable, private readonly max = 256) {}

  compile<R> (shape: S, values: V): CompiledQuery<R> {
    const key = JSON.stringify(shape)
    let template = this.templates.get(key)
    if (template === undefined) {
      template = this.template(shape, values)
      if (this.templates.size >= this.max) this.templates.delete(this.templates.keys().next().value!)
      this.templates.set(key, template)
    }
    return CompiledQuery.raw(template.sql, template.parameters.map(p => 'key' in p ? values[p.key] : p.constant)) as CompiledQuery<R>
  }

  private template (shape: S, values: V): Template {
    const placeholders = Object.fromEntries(Object.keys(values).map(key => [key, new Placeholder(key)])) as unknown as V
    const { sql, parameters } = this.build(shape, placeholders).compile()
    return { sql, parameters: parameters.map(value => value instanceof Placeholder ? { key: value.key } : { constant: value }) }
  }
}
