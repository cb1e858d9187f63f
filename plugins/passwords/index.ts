import fp from 'fastify-plugin'
import { PasswordHasher } from './hasher.js'

declare module 'fastify' {
  interface FastifyInstance {
    passwords: PasswordHasher
  }
}

/** bcrypt in a pool of worker threads, so hashing never stalls other users' requests. */
export default fp<{ cost: number }>(async function passwordsPlugin (app, opts) {
  const passwords = new PasswordHasher(opts.cost)
  app.decorate('passwords', passwords)
  app.addHook('onClose', async () => { await passwords.close() })
}, { name: 'passwords' })
