import { buildApp } from '../app.js'
import { loadConfig } from '../config.js'

/**
 * The OpenAPI document as YAML, from the same schemas that validate the routes. Built on an
 * app that never connects: a pg pool only dials on the first query, and migrations are off.
 */
export async function generateOpenApi (): Promise<string> {
  const config = loadConfig({ DATABASE_URL: 'postgres://openapi@127.0.0.1:1/none', JWT_SECRET: 'x'.repeat(32), LOG_LEVEL: 'silent' })
  const app = buildApp(config, { migrate: false, logger: false })
  await app.ready()
  const yaml = app.swagger({ yaml: true })
  await app.close()
  return yaml
}
