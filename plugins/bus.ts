import fp from 'fastify-plugin'
import { ChatBus } from '../src/chat/events.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Every committed change (and typing, presence): the realtime hub, the Redis fan-out and the auth cache listen. */
    bus: ChatBus
  }
}

export default fp(async function busPlugin (app) {
  app.decorate('bus', new ChatBus())
}, { name: 'bus' })
