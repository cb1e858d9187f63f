import { existsSync } from 'node:fs'
import dotenv from 'dotenv'
import { type Config, ConfigError, loadConfig } from './config.js'

/** Loads `.env` from the working directory when it exists; variables already set win. */
export function loadDotEnv (file = '.env'): void {
  if (existsSync(file)) dotenv.config({ path: file, quiet: true })
}

/**
 * What a command (the server, `npm run admin`) starts with: `.env`, then the environment, read and
 * checked; a bad value prints one line naming the variable and exits 1.
 */
export function loadConfigOrExit (): Config {
  loadDotEnv()
  try {
    return loadConfig()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`Configuration error: ${err.message}\n`)
    process.exit(1)
  }
}
