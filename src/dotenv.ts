import { existsSync } from 'node:fs'
import dotenv from 'dotenv'

/** Loads `.env` from the working directory when it exists; variables already set win. */
export function loadDotEnv (file = '.env'): void {
  if (existsSync(file)) dotenv.config({ path: file, quiet: true })
}
