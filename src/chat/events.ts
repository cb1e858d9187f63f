import { EventEmitter } from 'node:events'
import type { MessageView } from '../schemas/messages.js'
import type { ServerPayload } from '../schemas/realtime.js'

/**
 * Everything that happened, after it was committed (or, for typing and presence, as it
 * happens): the one way out of a domain change. Subscribers (the socket hub, the Redis fan-out
 * to other instances, the auth-state cache) each take what concerns them.
 */
export type ChatEvent =
  /** A message was stored: its room's member sockets get `message:new`. */
  | { type: 'message:new', room_id: number, payload: MessageView }
  /** A user became a member (joined, or created the room): their open sockets subscribe to it. */
  | { type: 'member:joined', room_id: number, user_id: number }
  /** The user's tokens older than `token_version` were revoked (logout, new password or email, disabled): their sockets close. */
  | { type: 'user:revoked', user_id: number, token_version: number }
  /** A member is typing: the room's other members get `typing`. Never stored. */
  | { type: 'typing', room_id: number, payload: ServerPayload<'typing'> }
  /** A member came online or went offline: the room's other members get `presence`. */
  | { type: 'presence', room_id: number, payload: ServerPayload<'presence'> }

/** Events a room's member sockets receive as a frame `{type, payload}`. */
export type RoomFrameEvent = Extract<ChatEvent, { payload: unknown }>

/**
 * The bus. `publish` is for what happened on this instance; `receive` for what another instance
 * published (the Redis fan-out brings it): subscribers are told which, so that only local events
 * are carried on, and reactions that must happen once (announcing a new member) happen once.
 */
export class ChatBus {
  private readonly emitter = new EventEmitter()

  constructor () {
    this.emitter.setMaxListeners(0)
  }

  publish (event: ChatEvent): void {
    this.emitter.emit('event', event, false)
  }

  receive (event: ChatEvent): void {
    this.emitter.emit('event', event, true)
  }

  subscribe (listener: (event: ChatEvent, remote: boolean) => void): () => void {
    this.emitter.on('event', listener)
    return () => this.emitter.off('event', listener)
  }
}
