import { EventEmitter } from 'node:events'
import type { MessageView } from '../schemas/messages.js'
import type { FeedFrameType, ServerPayload } from '../schemas/realtime.js'

/** A change of the room feed, after commit: its frame goes to the room's member sockets in seq order. */
type FeedEvent<T extends FeedFrameType> = { type: T, room_id: number, payload: ServerPayload<T> }

/**
 * Everything that happened, after it was committed (or, for typing and presence, as it
 * happens): the one way out of a domain change. Subscribers (the socket hub, the Redis fan-out
 * to other instances, the auth-state cache) each take what concerns them.
 */
export type ChatEvent =
  /** A message was stored: its room's member sockets get `message:new`. */
  | { type: 'message:new', room_id: number, payload: MessageView }
  | FeedEvent<'message:updated'> | FeedEvent<'message:deleted'>
  | FeedEvent<'reaction:added'> | FeedEvent<'reaction:removed'>
  /** Someone became a member: their open sockets subscribe to the room, then every member's get the frame. */
  | FeedEvent<'member:joined'>
  /** Someone stopped being a member: their sockets stop listening (and get `room:removed`), the others get the frame. */
  | FeedEvent<'member:left'>
  | FeedEvent<'member:updated'> | FeedEvent<'room:updated'>
  /** A user created a room (not a feed change: nobody else is in it): their open sockets subscribe to it. */
  | { type: 'room:subscribe', room_id: number, user_id: number }
  /** The user's read marker moved: their own sockets get `read`. */
  | { type: 'read', user_id: number, payload: ServerPayload<'read'> }
  /** The user was invited to a room: their own sockets get `room:invited`. */
  | { type: 'room:invited', user_id: number, payload: ServerPayload<'room:invited'> }
  /** Someone else made the user a member (a DM opened with them): their own sockets get `room:added` (a `room:subscribe` subscribes them). */
  | { type: 'room:added', user_id: number, payload: ServerPayload<'room:added'> }
  /** The room was deleted: every socket listening to it gets `room:deleted` and stops listening. Not in the feed (the feed is gone). */
  | { type: 'room:deleted', room_id: number, payload: ServerPayload<'room:deleted'> }
  /** The user's tokens older than `token_version` were revoked (logout, new password or email, disabled): their sockets close. */
  | { type: 'user:revoked', user_id: number, token_version: number }
  /** A member is typing: the room's other members get `typing`. Never stored. */
  | { type: 'typing', room_id: number, payload: ServerPayload<'typing'> }
  /** A member came online or went offline: the room's other members get `presence`. */
  | { type: 'presence', room_id: number, payload: ServerPayload<'presence'> }

/** Events sockets receive as a frame `{type, payload}`. */
export type FrameEvent = Extract<ChatEvent, { payload: unknown }>
/** Events a room's member sockets receive as a frame. */
export type RoomFrameEvent = Extract<FrameEvent, { room_id: number }>
/** The feed's events: each has the room's next seq. */
export type RoomFeedEvent = Extract<RoomFrameEvent, { type: FeedFrameType }>

/** The seq of a feed event (undefined for typing and presence). */
export function feedSeq (event: RoomFrameEvent): number | undefined {
  const { seq } = event.payload as { seq?: unknown }
  return typeof seq === 'number' ? seq : undefined
}

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
