// Grants or revokes the admin role: `npm run admin -- grant user@example.com` (or `revoke`).
// Reads the same configuration as the server (.env, DATABASE_URL, or the embedded engine in
// DATA_DIR). The embedded engine serves one process at a time: stop the server before running this.
// A running server sees the change within AUTH_CACHE_SECONDS (5 by default).
import { connectDatabase } from '../db/connect.js'
import { migrateToLatest } from '../db/migrate.js'
import { setRoleByEmail } from '../db/users.js'
import { loadConfigOrExit } from '../src/config.js'

const USAGE = 'usage: npm run admin -- grant|revoke <email>'

const [action, email, ...rest] = process.argv.slice(2)
if ((action !== 'grant' && action !== 'revoke') || email === undefined || rest.length > 0) {
  process.stderr.write(`${USAGE}\n`)
  process.exit(2)
}

const config = loadConfigOrExit()

const { db } = await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: 1 })
let code = 0
try {
  await migrateToLatest(db)
  const user = await setRoleByEmail(db, email, action === 'grant' ? 'admin' : 'user')
  if (user === undefined) {
    process.stderr.write(`No user has the email ${email}\n`)
    code = 1
  } else {
    process.stdout.write(`${user.email} (id ${user.id}) is ${action === 'grant' ? 'now an admin' : 'no longer an admin'}\n`)
  }
} finally {
  await db.destroy()
}
// Explicitly: closing the embedded engine resets process.exitCode.
process.exit(code)
