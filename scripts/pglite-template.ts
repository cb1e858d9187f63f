// postinstall: prepares an initialised embedded data directory so the first `npm start` is quick.
// Failing here only makes that first start slower, never breaks the install.
import { templateFile, writeTemplate } from '../db/embedded.js'

const started = Date.now()
try {
  await writeTemplate()
  console.log(`chat-app: embedded database template ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${templateFile})`)
} catch (err) {
  console.warn(`chat-app: could not prepare the embedded database template (${String(err)}); the first start will initialise it instead`)
}
