// `npx kysely migrate:latest` / `migrate:down` / `migrate:list`: the same migrations the server
// runs at start-up, on the same database the server would use (DATABASE_URL, DB_*, or DATA_DIR).
import { defineConfig } from 'kysely-ctl'
import { loadConfig } from './src/config.js'
import { loadDotEnv } from './src/config.js'
import { connectDatabase } from './db/connect.js'

loadDotEnv()
const config = loadConfig()
const { db } = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir })

export default defineConfig({
  kysely: db,
  migrations: { migrationFolder: 'db/migrations' }
})
