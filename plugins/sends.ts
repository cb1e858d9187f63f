import fp from 'fastify-plugin'
import { type MessageSends, storeSends } from '../src/chat/messages.js'
import { SendQueue } from '../src/chat/send-queue.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Message sends, coalesced per room while the room's previous statement runs (group commit). */
    sends: MessageSends
  }
}

/** The one queue every send (REST and WebSocket) goes through. It holds nothing but sends in flight, which their requests wait for. */
export default fp(async function sendsPlugin (app) {
  const sends: MessageSends = new SendQueue(async (roomId, batch) => await storeSends(app, roomId, batch))
  app.decorate('sends', sends)
}, { name: 'sends', dependencies: ['db', 'bus'] })
