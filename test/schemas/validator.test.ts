import { Ajv } from 'ajv'
import t from 'tap'
import { sharedSchemas } from '../../src/schemas/index.js'

// src/schemas/validator.ts adds the shared schemas to its JSON validator unchecked, to spare every
// start the meta-schema pass: this is where they are checked.
t.test('every shared schema is valid against the JSON Schema meta-schema', async t => {
  const ajv = new Ajv()
  for (const schema of sharedSchemas) {
    const id = typeof schema === 'object' ? String((schema as { $id?: unknown }).$id) : String(schema)
    t.ok(ajv.validateSchema(schema), `${id}: ${ajv.errorsText(ajv.errors)}`)
  }
})
