// postinstall: prepares a migrated embedded data directory so the first `npm start` is quick.
// Failing here only makes that first start slower, never breaks the install.
import { writeTemplate } from '../db/embedded.js'

const started = Date.now()
try {
  const dir = await writeTemplate()
  console.log(`chat-app: embedded database template ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${dir})`)
} catch (err) {
  console.warn(`chat-app: could not prepare the embedded database template (${String(err)}); the first start will initialise it instead`)
}
