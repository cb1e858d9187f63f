import fp from 'fastify-plugin'
import { type MessageSends, storeSends } from '../src/chat/messages.js'
import { SendQueue } from '../src/chat/send-queue.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Message sends: those that wait while statements run are stored together (group commit). */
    sends: MessageSends
  }
}

/** The one queue every send (REST and WebSocket) goes through. It holds nothing but sends in flight, which their requests wait for. */
export default fp(async function sendsPlugin (app) {
  const sends: MessageSends = new SendQueue(async batch => await storeSends(app, batch))
  app.decorate('sends', sends)
}, { name: 'sends', dependencies: ['db', 'bus'] })
