import fp from 'fastify-plugin'
import { RoomEvents } from '../src/chat/events.js'

declare module 'fastify' {
  interface FastifyInstance {
    events: RoomEvents
  }
}

/** Committed room events (a stored message), for the realtime plugin to deliver. */
export default fp(async function eventsPlugin (app) {
  app.decorate('events', new RoomEvents())
}, { name: 'events' })
