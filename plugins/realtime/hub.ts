import type { Duplex } from 'node:stream'
import type { WebSocket } from 'ws'
import { type ChatEvent, type FrameEvent } from '../../src/chat/events.js'
import type { ServerFrame, ServerPayload } from '../../src/schemas/realtime.js'
import { READ_ATTEMPTS, RoomSequencer, type SequencerOptions } from './room-sequencer.js'

/** Close codes the server uses (RFC 6455 section 7.4 and the IANA registry). */
export const CloseCode = {
  /** The server is shutting down. */
  GOING_AWAY: 1001,
  /** Abuse: the socket kept sending frames the rate limit refused. */
  POLICY_VIOLATION: 1008,
  /** A frame over the size limit (sent by `ws` itself, from `maxPayload`). */
  TOO_BIG: 1009,
  /** The client reads too slowly: its unsent buffer passed the limit, or it has too many sockets open. */
  TRY_AGAIN_LATER: 1013,
  /** The token the socket was opened with has expired or was revoked (or was never valid): log in again. */
  UNAUTHORIZED: 4401
} as const

/** How many runs of consecutive live seqs per room a socket remembers between catch-ups (past it, a catch-up may repeat some). */
const LIVE_RUNS_MAX = 64
/** A catch-up is sent in chunks of this many frames, one chunk per turn of the event loop (see `Hub.catchUp`). */
const YIELD_EVERY = 100
/** `HubOptions.replayPatienceMs`'s default. */
const REPLAY_PATIENCE_MS = 1000
/** Live frames a socket may hold while its catch-up is being sent; past it, it is a slow consumer. */
const HELD_MAX = 5000

type Held = Array<{ seq: number, frame: Buffer }>

/** What one socket knows of one room's order. */
interface RoomState {
  /** Set while the room is being caught up: its live frames wait here. */
  held?: Held
  /** The highest seq a catch-up sent. */
  floor?: number
  /**
   * The seqs delivered live since the last catch-up, as runs of consecutive seqs (first, last,
   * first, last, …): the sequencer hands frames over in order, so this is nearly always one run,
   * extended in place for each frame.
   */
  live: number[]
}

/**
 * One socket's order of delivery per room, around catch-ups: while a room is being caught up its
 * live frames are held; once the catch-up is sent, those it covered are dropped and the rest
 * follow in seq order; afterwards live frames at or below what the catch-up sent are duplicates.
 * A live frame costs one map lookup and a comparison (it is done for every socket of the room).
 */
export class RoomOrder {
  private readonly rooms = new Map<number, RoomState>()

  private state (roomId: number): RoomState {
    let state = this.rooms.get(roomId)
    if (state === undefined) this.rooms.set(roomId, state = { live: [] })
    return state
  }

  /** What to do with a live frame at `seq`: send it now, hold it (catching up), skip it (a duplicate), or overflow (too many held). */
  offer (roomId: number, seq: number, frame: Buffer): 'send' | 'held' | 'skip' | 'overflow' {
    const state = this.state(roomId)
    const { held, floor, live } = state
    if (held !== undefined) {
      if (held.length >= HELD_MAX) return 'overflow'
      held.push({ seq, frame })
      return 'held'
    }
    if (floor !== undefined && seq <= floor) return 'skip'
    const last = live.length - 1
    if (last > 0 && live[last] === seq - 1) live[last] = seq
    else if (live.length < LIVE_RUNS_MAX * 2) live.push(seq, seq)
    return 'send'
  }

  /** Starts holding the room's live frames (a catch-up begins; one announced when the socket opened is already holding). */
  hold (roomId: number): void {
    const state = this.state(roomId)
    state.held ??= []
  }

  /** Whether the room's live frames are being held. */
  holding (roomId: number): boolean {
    return this.rooms.get(roomId)?.held !== undefined
  }

  /** Whether a catch-up frame at `seq` already went out live. */
  sentLive (roomId: number, seq: number): boolean {
    const live = this.rooms.get(roomId)?.live ?? []
    for (let i = 0; i < live.length; i += 2) {
      if (seq >= live[i]! && seq <= live[i + 1]!) return true
    }
    return false
  }

  /**
   * The catch-up sent everything up to `floor` (undefined: it failed or was reset, nothing is
   * known): stops holding and returns the held frames past it, in seq order, to send now.
   */
  release (roomId: number, floor: number | undefined): Held {
    const state = this.state(roomId)
    const held = state.held ?? []
    state.held = undefined
    if (floor === undefined) {
      state.floor = undefined
      return held.sort((a, b) => a.seq - b.seq)
    }
    state.floor = floor
    state.live = []
    return held.filter(h => h.seq > floor).sort((a, b) => a.seq - b.seq)
  }

  /** The highest seq held for the room (what the client will have once they are sent). */
  heldUpTo (roomId: number): number {
    return Math.max(0, ...(this.rooms.get(roomId)?.held ?? []).map(h => h.seq))
  }

  /** Forgets a room (the socket stopped listening to it). */
  forget (roomId: number): void {
    this.rooms.delete(roomId)
  }

  /** Drops every held frame (the socket is going away). */
  clear (): void {
    for (const state of this.rooms.values()) state.held = undefined
  }
}

/** One open socket and what it listens to. */
export class Client {
  /** Rooms whose frames this socket receives. */
  readonly rooms = new Set<number>()
  /** Cleared before each heartbeat ping, set again by the pong. */
  alive = true
  readonly order = new RoomOrder()
  /** The rooms it was subscribed to when the hub let it go (the user's offline announcement goes there). */
  roomsAtRemoval: number[] = []

  constructor (
    readonly socket: WebSocket,
    /** The TCP connection under it (the upgrade's): corked while a batch of frames is sent. */
    readonly connection: Duplex,
    readonly userId: number,
    readonly tokenVersion: number,
    readonly address: string
  ) {}
}

export interface HubOptions {
  /** A socket whose unsent buffer passes this many bytes is closed with 1013. */
  maxBufferedBytes: number
  /** At most this many open sockets per user on this instance; the next one is closed with 1013. */
  maxSocketsPerUser: number
  /** At most this many open sockets per client address on this instance. */
  maxSocketsPerAddress: number
  /** Told when a slow consumer is dropped. */
  onSlowConsumer?: (client: Client) => void
  /** In-order delivery of the rooms' feed frames: the bound on waiting for a missing one, and how the database is read. */
  feed: Omit<SequencerOptions, 'deliver'>
  /** How long a replay waiting for its client to read keeps the user's next one waiting (see `Hub.catchUp`). Default 1 s. */
  replayPatienceMs?: number
}

/** How every member frame begins (frames are serialized `{"type":...` first). */
const MEMBER_PREFIX = Buffer.from('{"type":"member:')

/** A place under the socket caps, held from before an upgrade's work until its socket is added or the upgrade ends (see `Hub.reserve`). */
export interface Place {
  userId: number
  address: string
  /** Whether it still counts against the caps (false once given back, or when it was past a cap). */
  held: boolean
  /** Set when it was past a cap: why its socket will be closed (1013). */
  refusal?: string
}

/** How long a revocation is remembered for sockets still being opened (longer than any upgrade takes). */
const REVOKED_MEMORY_MS = 10 * 60_000

/** The frame a room event becomes, serialized once however many sockets get it. */
export function frameBytes (event: FrameEvent): Buffer {
  let bytes = serialized.get(event)
  if (bytes === undefined) {
    bytes = Buffer.from(JSON.stringify({ type: event.type, payload: event.payload }))
    serialized.set(event, bytes)
  }
  return bytes
}
const serialized = new WeakMap<FrameEvent, Buffer>()

/** `room:deleted` for one socket (`closeRoom` is handed the event's own bytes). */
const roomDeletedFrame = (roomId: number): string => JSON.stringify({ type: 'room:deleted', payload: { room_id: roomId } })

/** Hands over bytes already received (from another instance) as the event's frame, so they are not serialized again. */
export function withFrame<E extends FrameEvent> (event: E, bytes: Buffer): E {
  serialized.set(event, bytes)
  return event
}

/**
 * The sockets of this instance, indexed by room and by user. It only delivers: it listens to the
 * bus (events of this instance and, through the fan-out, of the others) and sends each socket
 * what concerns it, in order: a room's feed frames pass through the room's `RoomSequencer` (one
 * per room with local sockets), so every socket gets them in seq order, each once.
 */
export class Hub {
  readonly clients = new Set<Client>()
  private readonly byRoom = new Map<number, Set<Client>>()
  private readonly byUser = new Map<number, Set<Client>>()
  private readonly byAddress = new Map<string, Set<Client>>()
  /** Per user, the token version below which every token is revoked (and until when that is remembered). */
  private readonly revoked = new Map<number, { version: number, until: number }>()
  /** Rooms deleted lately (until when that is remembered): a socket never listens to one again (see `closeRoom`). */
  private readonly deletedRooms = new Map<number, number>()
  /** The ordering stage of each room that has local sockets. */
  private readonly sequencers = new Map<number, RoomSequencer>()
  private readonly sequencerOptions: SequencerOptions
  /** Places held by sockets being opened, per user and per address (see `reserve`). */
  private readonly openingByUser = new Map<number, number>()
  private readonly openingByAddress = new Map<string, number>()

  constructor (private readonly options: HubOptions) {
    this.sequencerOptions = { ...options.feed, deliver: (roomId, seq, frame) => { this.deliverFeed(roomId, seq, frame) } }
  }

  /** What the bus carries, delivered to this instance's sockets. */
  handle (event: ChatEvent): void {
    switch (event.type) {
      case 'typing':
      case 'presence': this.deliver(event.room_id, frameBytes(event), undefined, event.payload.user_id); return
      case 'room:subscribe': this.subscribeUser(event.user_id, event.room_id); return
      case 'user:revoked': this.revokeUser(event.user_id, event.token_version); return
      case 'read':
      case 'room:invited':
      case 'room:added': this.deliverToUser(event.user_id, frameBytes(event)); return
      case 'room:deleted': this.closeRoom(event.room_id, frameBytes(event)); return
      case 'member:joined':
        // No local socket listens to the room yet: the new member's start its sequencer, expecting this frame.
        if (!this.sequencers.has(event.room_id)) this.subscribeUser(event.payload.user.id, event.room_id, event.payload.seq - 1)
    }
    // The feed: through the room's sequencer, which hands frames to `deliverFeed` in seq order.
    this.sequencers.get(event.room_id)?.offer(event.payload.seq, frameBytes(event))
  }

  /**
   * A room's feed frame, in seq order (from its sequencer, live or read from the database). A
   * member frame changes who listens first: a new member's sockets get their own `member:joined`
   * and everything after; a former member's get `room:removed` and nothing from its seq on.
   */
  private deliverFeed (roomId: number, seq: number, frame: Buffer): void {
    if (frame.subarray(0, MEMBER_PREFIX.length).equals(MEMBER_PREFIX)) {
      const { type, payload } = JSON.parse(frame.toString()) as ServerFrame<'member:joined' | 'member:left'>
      if (type === 'member:joined') this.subscribeUser(payload.user.id, roomId)
      else if (type === 'member:left') this.removeUserFromRoom(payload.user_id, roomId, payload.reason)
    }
    this.deliver(roomId, frame, seq)
  }

  /**
   * Frames published while Redis was away never reached this instance, and nothing may follow
   * them: reads the last seq of every room with local sockets (one query per 10,000 rooms) and has
   * each room's sequencer fetch what it has not delivered. Retried with backoff; throws after
   * READ_ATTEMPTS failures (those frames then come when their room's next frame shows the gap).
   */
  async recheck (): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const roomIds = [...this.sequencers.keys()]
      try {
        const last = await this.sequencerOptions.readLastSeqs(roomIds)
        for (const [roomId, seq] of last) this.sequencers.get(roomId)?.expect(seq)
        return
      } catch (err) {
        if (attempt >= READ_ATTEMPTS) throw err
        await new Promise(resolve => setTimeout(resolve, Math.min(this.sequencerOptions.gapWaitMs * 2 ** attempt, 2000)))
      }
    }
  }

  /** Stops every room's sequencer (the server is closing). */
  close (): void {
    for (const sequencer of this.sequencers.values()) sequencer.close()
    this.sequencers.clear()
  }

  /**
   * Holds a place under the per-user and per-address caps for a socket about to be opened, before
   * the upgrade does any work for it (reading the user's rooms): the sockets being opened count
   * with the open ones, so a burst of upgrades is cut at the cap at once. A place past the cap
   * carries the reason its socket will be closed with (1013). Given back by `add`, or by `release`
   * when the upgrade never completes.
   */
  reserve (userId: number, address: string): Place {
    const place: Place = { userId, address, held: false }
    if (count(this.byUser, userId) + (this.openingByUser.get(userId) ?? 0) >= this.options.maxSocketsPerUser) {
      place.refusal = 'Too many sockets open for this user'
    } else if (count(this.byAddress, address) + (this.openingByAddress.get(address) ?? 0) >= this.options.maxSocketsPerAddress) {
      place.refusal = 'Too many sockets open from this address'
    } else {
      place.held = true
      bump(this.openingByUser, userId, 1)
      bump(this.openingByAddress, address, 1)
    }
    return place
  }

  /** Gives a place back (its upgrade ended, or its socket was added); a second call does nothing. */
  release (place: Place): void {
    if (!place.held) return
    place.held = false
    bump(this.openingByUser, place.userId, -1)
    bump(this.openingByAddress, place.address, -1)
  }

  /**
   * Adds the socket of a reserved place, or closes it at once: 4401 when its token was revoked
   * meanwhile (a revocation that arrived while it was being opened), 1013 when its place was past
   * the per-user or per-address cap. Returns undefined when it was refused.
   */
  add (socket: WebSocket, connection: Duplex, place: Place, tokenVersion: number): Client | undefined {
    const { userId, address, refusal } = place
    this.release(place)
    if (this.isRevoked(userId, tokenVersion)) {
      socket.close(CloseCode.UNAUTHORIZED, 'Token revoked')
      return undefined
    }
    if (refusal !== undefined) {
      socket.close(CloseCode.TRY_AGAIN_LATER, refusal)
      return undefined
    }
    const client = new Client(socket, connection, userId, tokenVersion, address)
    this.clients.add(client)
    addTo(this.byUser, userId, client)
    addTo(this.byAddress, address, client)
    return client
  }

  remove (client: Client): void {
    if (!this.clients.delete(client)) return
    removeFrom(this.byUser, client.userId, client)
    removeFrom(this.byAddress, client.address, client)
    for (const roomId of client.rooms) this.leaveRoom(client, roomId)
    client.roomsAtRemoval = [...client.rooms]
    client.rooms.clear()
    client.order.clear()
  }

  /**
   * Subscribes a socket to a room's frames. `lastSeq`: the room's last seq as read before this
   * (a socket opening reads its user's rooms): the room's first local socket starts the room's
   * sequencer there; later ones tell it that seq is committed. Without it (a join, a catch-up),
   * a new sequencer reads it itself.
   */
  subscribe (client: Client, roomId: number, lastSeq?: number): void {
    if (!this.clients.has(client) || client.rooms.has(roomId)) return
    if (this.wasDeleted(roomId)) {
      // The room went while this socket was being opened (its rooms were read before), or a join
      // committed before the deletion reached this instance after it: the socket is told instead.
      if (lastSeq !== undefined) this.send(client, roomDeletedFrame(roomId))
      return
    }
    client.rooms.add(roomId)
    addTo(this.byRoom, roomId, client)
    const sequencer = this.sequencers.get(roomId)
    if (sequencer === undefined) this.sequencers.set(roomId, new RoomSequencer(roomId, lastSeq, this.sequencerOptions))
    else if (lastSeq !== undefined) sequencer.expect(lastSeq)
  }

  unsubscribe (client: Client, roomId: number): void {
    if (client.rooms.delete(roomId)) this.leaveRoom(client, roomId)
    client.order.forget(roomId)
  }

  /** Takes the socket off the room's list; the room's last local socket gone, its sequencer goes too. */
  private leaveRoom (client: Client, roomId: number): void {
    removeFrom(this.byRoom, roomId, client)
    if (this.byRoom.has(roomId)) return
    this.sequencers.get(roomId)?.close()
    this.sequencers.delete(roomId)
  }

  /**
   * Holds the room's live frames on this socket from now until its catch-up, about to run, has
   * been sent (`?since=`: the socket is subscribed when it opens, and a live frame must not
   * overtake the replay). `releaseHeld` lets them go if no catch-up took them over.
   */
  holdForCatchUp (client: Client, roomId: number): void {
    client.order.hold(roomId)
  }

  /** Sends, in order, what `holdForCatchUp` held for a room whose catch-up never started (refused before it). */
  releaseHeld (client: Client, roomId: number): void {
    if (!client.order.holding(roomId)) return
    for (const { frame } of client.order.release(roomId, undefined)) this.send(client, frame)
  }

  /** Subscribes every local socket of a user to a room (the user joined it). */
  subscribeUser (userId: number, roomId: number, lastSeq?: number): void {
    for (const client of this.byUser.get(userId) ?? []) this.subscribe(client, roomId, lastSeq)
  }

  /** Stops a user's local sockets listening to a room, telling each with `room:removed`. */
  removeUserFromRoom (userId: number, roomId: number, reason: ServerPayload<'room:removed'>['reason']): void {
    const frame = JSON.stringify({ type: 'room:removed', payload: { room_id: roomId, reason } })
    for (const client of this.byUser.get(userId) ?? []) {
      if (!client.rooms.has(roomId)) continue
      this.unsubscribe(client, roomId)
      this.send(client, frame)
    }
  }

  /**
   * The room is gone: every local socket listening to it gets the frame (`room:deleted`) and stops
   * listening; its sequencer goes, and with it any frame of the room still on its way (one
   * committed before the deletion but arriving after it, from another instance, is dropped). The
   * room is remembered for a while, so that no socket subscribes to it again (see `subscribe`).
   */
  closeRoom (roomId: number, frame: Buffer): void {
    const now = Date.now()
    this.deletedRooms.set(roomId, now + REVOKED_MEMORY_MS)
    if (this.deletedRooms.size >= 10_000) for (const [id, until] of this.deletedRooms) if (until < now) this.deletedRooms.delete(id)
    for (const client of [...this.byRoom.get(roomId) ?? []]) {
      this.unsubscribe(client, roomId)
      this.send(client, frame)
    }
  }

  /** Whether the room was deleted lately (as far as this instance heard). */
  private wasDeleted (roomId: number): boolean {
    const until = this.deletedRooms.get(roomId)
    return until !== undefined && until > Date.now()
  }

  /** Sends a frame to every local socket of a user. */
  deliverToUser (userId: number, frame: Buffer): void {
    for (const client of [...this.byUser.get(userId) ?? []]) this.send(client, frame)
  }

  /**
   * Closes (4401) every local socket of the user opened with a token older than `tokenVersion`,
   * and remembers the revocation so that a socket still being opened with such a token is refused.
   */
  revokeUser (userId: number, tokenVersion: number): void {
    const now = Date.now()
    const known = this.revoked.get(userId)
    if (known === undefined || known.version < tokenVersion || known.until < now) {
      this.revoked.set(userId, { version: Math.max(tokenVersion, known?.version ?? 0), until: now + REVOKED_MEMORY_MS })
    }
    this.forgetOldRevocations(now)
    for (const client of [...this.byUser.get(userId) ?? []]) {
      if (client.tokenVersion < tokenVersion) client.socket.close(CloseCode.UNAUTHORIZED, 'Token revoked')
    }
  }

  /** Whether a token of this version was revoked (as far as this instance heard). */
  isRevoked (userId: number, tokenVersion: number): boolean {
    const known = this.revoked.get(userId)
    return known !== undefined && known.until > Date.now() && tokenVersion < known.version
  }

  private forgetOldRevocations (now: number): void {
    if (this.revoked.size < 10_000) return
    for (const [userId, { until }] of this.revoked) if (until < now) this.revoked.delete(userId)
  }

  /**
   * Sends one already-serialized frame to every local socket subscribed to the room. `seq` (a
   * feed frame's position in the room; feed frames come here from the room's sequencer, in order)
   * lets a socket that is catching up hold the frame back, or skip one it already got.
   * `exceptUserId`: that user's sockets are skipped (their own typing and presence). Returns how
   * many sockets got it (or hold it).
   */
  deliver (roomId: number, frame: Buffer, seq?: number, exceptUserId?: number): number {
    const clients = this.byRoom.get(roomId)
    if (clients === undefined) return 0
    let sent = 0
    // A copy: a slow consumer is removed from the set while we iterate.
    for (const client of [...clients]) {
      if (client.userId === exceptUserId) continue
      const verdict = seq === undefined ? 'send' : client.order.offer(roomId, seq, frame)
      if (verdict === 'overflow') this.dropSlow(client)
      else if (verdict === 'held') sent++
      else if (verdict === 'send' && this.send(client, frame)) sent++
    }
    return sent
  }

  /**
   * A room's catch-up on one socket: subscribes it (a room joined since the socket opened is
   * picked up here) and holds the room's live frames while `read` runs and its frames are sent,
   * then lets the held ones through in order. A user's catch-ups on this instance run one at a
   * time (see `replayTurn`), so many sockets buy a user no more of the server at once than one.
   * Returns the last seq the client then has, or undefined when `read` said it is too far behind
   * (`sync:reset` was sent), or when the socket closed before its turn came. When `read` throws
   * (not a member), a socket that was not subscribed before is unsubscribed again and gets nothing.
   */
  async catchUp (
    client: Client, roomId: number,
    read: () => Promise<{ reset: true } | { reset: false, frames: Array<{ seq: number, frame: ServerFrame }>, upTo: number }>
  ): Promise<number | undefined> {
    const wasSubscribed = client.rooms.has(roomId)
    this.subscribe(client, roomId)
    if (!client.rooms.has(roomId)) {
      // A room deleted lately is not subscribed to again: `read` says why (it finds no room).
      if (this.clients.has(client) && this.wasDeleted(roomId)) await read()
      return undefined // or the socket closed meanwhile
    }
    client.order.hold(roomId)
    let floor: number | undefined
    let refused = false
    let endTurn: (() => void) | undefined
    let patience: NodeJS.Timeout | undefined
    try {
      endTurn = await this.replayTurn(client.userId)
      // Queued behind the user's other replays: one whose socket closed meanwhile is dropped unread.
      if (!this.clients.has(client) || !client.rooms.has(roomId)) return undefined
      const result = await read()
      // What the catch-up read is committed: the room's sequencer makes sure it goes live too.
      if (!result.reset) this.sequencers.get(roomId)?.expect(result.upTo)
      if (result.reset) {
        await this.sendPaced(client, [JSON.stringify({ type: 'sync:reset', payload: { room_id: roomId } })])
        return undefined
      }
      for (let i = 0; i < result.frames.length; i += YIELD_EVERY) {
        // Every catch-up on this instance takes turns: one chunk per turn of the event loop in all,
        // so however many run at once, other work (another user's request) waits for one chunk at most.
        await this.nextTurn()
        // Membership is checked at delivery: once the socket stopped listening to the room (the
        // user left or was removed, the room was deleted: `room:removed` or `room:deleted` went
        // out), nothing more of what the catch-up read is sent.
        if (client.socket.readyState !== client.socket.OPEN || !client.rooms.has(roomId)) break
        const chunk = result.frames.slice(i, i + YIELD_EVERY).filter(({ seq }) => !client.order.sentLive(roomId, seq))
        // Waiting for its client to read, the replay keeps its turn for a while (a client reading
        // at a normal pace is soon back, and the user's replays stay one at a time): from its first
        // wait, `replayPatienceMs` at most, then the user's next one goes. One of their clients that
        // stopped reading, or reads slowly, holds up the others that long and no longer.
        await this.sendPaced(client, chunk.map(({ frame }) => JSON.stringify(frame)), () => {
          patience ??= setTimeout(() => { endTurn?.() }, this.options.replayPatienceMs ?? REPLAY_PATIENCE_MS)
        })
      }
      if (!client.rooms.has(roomId)) return undefined
      floor = result.upTo
      return Math.max(floor, client.order.heldUpTo(roomId))
    } catch (err) {
      refused = !wasSubscribed
      throw err
    } finally {
      clearTimeout(patience)
      endTurn?.()
      if (refused) {
        this.unsubscribe(client, roomId)
      } else {
        // Whatever happened, live frames held meanwhile are not lost: those past the catch-up go out in order.
        for (const { frame } of client.order.release(roomId, floor)) this.send(client, frame)
      }
    }
  }

  /**
   * Sends a frame to one socket unless it is not open. A socket whose unsent buffer passes the
   * limit is closed with 1013 and dropped, instead of letting the buffer grow without bound.
   */
  send (client: Client, frame: Buffer | string): boolean {
    const { socket } = client
    if (socket.readyState !== socket.OPEN) return false
    this.corkForTurn(client)
    socket.send(frame, { binary: false })
    if (socket.bufferedAmount > this.options.maxBufferedBytes) this.dropSlow(client)
    return true
  }

  /** Connections corked by `send` in this turn of the event loop, written out together at its end. */
  private readonly corked = new Set<Client>()

  /**
   * Holds a socket's frames until the synchronous work that sends them is done (a batch of sends
   * published at once, a frame to every member): then each connection writes what it got in one
   * system call rather than one per frame. A lone frame waits for nothing but the end of the
   * current task (a microtask).
   */
  private corkForTurn (client: Client): void {
    if (this.corked.has(client)) return
    client.connection.cork()
    this.corked.add(client)
    if (this.corked.size === 1) {
      queueMicrotask(() => {
        for (const corked of this.corked) corked.connection.uncork()
        this.corked.clear()
      })
    }
  }

  /**
   * Sends frames in one write to the connection (each `send` would be a system call of its own)
   * and, when the socket's buffer is getting full, waits until they have been written out: for
   * catch-up, where the server (not the room) decides the pace. `onWait` is told before such a
   * wait (the client, not the server, is what it waits for).
   */
  async sendPaced (client: Client, frames: string[], onWait?: () => void): Promise<void> {
    const { socket } = client
    if (socket.readyState !== socket.OPEN || frames.length === 0) return
    let written: Promise<void> | undefined
    this.corkForTurn(client)
    for (const frame of frames.slice(0, -1)) socket.send(frame, { binary: false })
    const last = frames.at(-1)!
    if (socket.bufferedAmount < this.options.maxBufferedBytes / 4) socket.send(last, { binary: false })
    else written = new Promise<void>(resolve => { socket.send(last, { binary: false }, () => resolve()) })
    if (written === undefined) return
    onWait?.()
    await written
  }

  /** Per user, the turn of the last replay queued on this instance (see `replayTurn`). */
  private readonly replays = new Map<number, Promise<void>>()

  /**
   * Waits until the user's replays queued before this one on this instance are done (or have
   * waited `replayPatienceMs` for their client to read), and returns what ends this one's turn (a second call does
   * nothing). One replay of a user at a time: an abuser's sockets replaying at once get the
   * server's time one after the other, not together, while other users' work goes on.
   */
  private async replayTurn (userId: number): Promise<() => void> {
    const before = this.replays.get(userId)
    let end!: () => void
    const mine = new Promise<void>(resolve => { end = resolve })
    this.replays.set(userId, mine)
    await before
    return () => {
      end()
      if (this.replays.get(userId) === mine) this.replays.delete(userId)
    }
  }

  /** Work waiting for its turn (see `nextTurn`), first come first served. */
  private readonly turns: Array<() => void> = []

  /**
   * Resolves at the caller's turn: one a turn of the event loop (a `setImmediate` each), for work
   * that a burst would otherwise pile into one turn: a catch-up's chunks, and sockets opening (see
   * the realtime plugin's `prepare`). Node accepts one new connection per turn of its event loop,
   * so a turn kept short is also how soon another client's new connection is taken in.
   */
  async nextTurn (): Promise<void> {
    await new Promise<void>(resolve => {
      this.turns.push(resolve)
      if (this.turns.length === 1) setImmediate(this.passTurn)
    })
  }

  private readonly passTurn = (): void => {
    this.turns.shift()?.()
    if (this.turns.length > 0) setImmediate(this.passTurn)
  }

  private dropSlow (client: Client): void {
    this.remove(client)
    this.options.onSlowConsumer?.(client)
    // The close frame queues behind what is buffered; `ws` destroys the socket if the
    // closing handshake has not finished within its close timeout (30 s).
    client.socket.close(CloseCode.TRY_AGAIN_LATER, 'Slow consumer: reading too slowly')
  }
}

function addTo<K> (map: Map<K, Set<Client>>, key: K, client: Client): void {
  let set = map.get(key)
  if (set === undefined) {
    set = new Set()
    map.set(key, set)
  }
  set.add(client)
}

function count<K> (map: Map<K, Set<Client>>, key: K): number {
  return map.get(key)?.size ?? 0
}

function bump<K> (map: Map<K, number>, key: K, by: number): void {
  const n = (map.get(key) ?? 0) + by
  if (n > 0) map.set(key, n)
  else map.delete(key)
}

function removeFrom<K> (map: Map<K, Set<Client>>, key: K, client: Client): void {
  const set = map.get(key)
  if (set === undefined) return
  set.delete(client)
  if (set.size === 0) map.delete(key)
}
