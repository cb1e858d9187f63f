import { EventEmitter } from 'node:events'
import type { MessageView } from '../schemas/messages.js'

/** What happened in a room, after it was committed. */
export type RoomEvent =
  | { type: 'message:new', room_id: number, payload: MessageView }
  /** A user became a member (joined, or created the room): their open sockets subscribe to it. */
  | { type: 'member:joined', room_id: number, user_id: number }
  /** The user's tokens older than `token_version` were revoked (logout, new password or email, disabled): their sockets close. */
  | { type: 'user:revoked', user_id: number, token_version: number }

/**
 * Where committed room events go. In-process by default; the realtime plugin may carry them
 * between instances (Redis) and delivers them to sockets.
 */
export class RoomEvents {
  private readonly emitter = new EventEmitter()

  constructor () {
    this.emitter.setMaxListeners(0)
  }

  publish (event: RoomEvent): void {
    this.emitter.emit('event', event)
  }

  subscribe (listener: (event: RoomEvent) => void): () => void {
    this.emitter.on('event', listener)
    return () => this.emitter.off('event', listener)
  }
}
