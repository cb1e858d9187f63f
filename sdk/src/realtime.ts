import type { components as FrameSchemas } from './frames.js'

/** Every frame the server sends, discriminated by `type` (generated from asyncapi.yaml). */
export type ServerFrame = FrameSchemas['schemas']['ServerFrame']
/** Every frame a client sends. */
export type ClientFrame = FrameSchemas['schemas']['ClientFrame']
export type Message = FrameSchemas['schemas']['Message']
export type Room = FrameSchemas['schemas']['Room']
export type FrameOf<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>

/** The part of the WebSocket API the client uses: the browser's, and `ws`'s in Node. */
export interface WebSocketLike {
  readonly readyState: number
  send: (data: string) => void
  close: (code?: number, reason?: string) => void
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number, reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
}

export interface ChatClientOptions {
  /** The server, e.g. `http://localhost:8080` (the socket is `ws://…/ws`). */
  baseUrl: string
  /** The JWT from `POST /api/v1/users/login`. */
  token: string
  /** Your user id (reactions' `me`, unread counts). */
  userId: number
  /** Opens a socket. Browsers: the global WebSocket (the default). Node: `url => new WebSocket(url)` from `ws`. */
  webSocket?: (url: string) => WebSocketLike
  fetch?: typeof fetch
  /** Reconnection: full-jitter exponential backoff, `initialMs` × 2^attempt capped at `maxMs`. */
  backoff?: { initialMs?: number, maxMs?: number }
  /** Random numbers in [0, 1) for the jitter (tests pass a seeded one). */
  random?: () => number
}

export type Status = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'

/** One room as this client knows it: its feed applied in seq order. */
export class RoomState {
  /** The last feed seq applied (0: none yet). */
  lastSeq = 0
  /** Messages by id, in their current state (edits applied, deletes as tombstones, reactions counted). */
  readonly messages = new Map<number, Message>()
  /** Whether a replay was asked for and has not yet caught up. */
  resyncing = false
  /**
   * Frames past a gap, by seq, until the gap is filled: they are applied in order then. (A replay
   * does not repeat what the socket already got live, so nothing received may be dropped.)
   */
  readonly ahead = new Map<number, ServerFrame>()
  lastReadSeq = 0
  room: Room | undefined

  constructor (readonly id: number, private readonly userId: number) {}

  /** The messages in seq order. */
  timeline (): Message[] {
    return [...this.messages.values()].sort((a, b) => a.seq - b.seq)
  }

  /** Messages after your read marker that are not deleted and not yours (among those this client holds). */
  get unread (): number {
    let n = 0
    for (const m of this.messages.values()) if (m.seq > this.lastReadSeq && m.deleted_at === null && m.user_id !== this.userId) n++
    return n
  }

  /** Applies one feed frame (the caller checked it is the next seq). */
  apply (frame: ServerFrame): void {
    switch (frame.type) {
      case 'message:new':
        this.messages.set(frame.payload.id, frame.payload)
        if (frame.payload.user_id === this.userId) this.lastReadSeq = Math.max(this.lastReadSeq, frame.payload.seq)
        break
      case 'message:updated': {
        const m = this.messages.get(frame.payload.message_id)
        if (m !== undefined) this.messages.set(m.id, { ...m, content: frame.payload.content, edited_at: frame.payload.edited_at })
        break
      }
      case 'message:deleted': {
        const m = this.messages.get(frame.payload.message_id)
        if (m !== undefined) this.messages.set(m.id, { ...m, content: '', deleted_at: m.deleted_at ?? new Date().toISOString(), reactions: [], attachments: [] })
        break
      }
      case 'reaction:added':
      case 'reaction:removed': {
        const m = this.messages.get(frame.payload.message_id)
        if (m === undefined) break
        const { emoji, count, user_id: userId } = frame.payload
        const reactions = m.reactions.filter(r => r.emoji !== emoji || count > 0)
        const existing = reactions.find(r => r.emoji === emoji)
        const me = userId === this.userId ? frame.type === 'reaction:added' : (existing?.me ?? false)
        if (existing !== undefined) Object.assign(existing, { count, me })
        else if (count > 0) reactions.push({ emoji, count, me })
        this.messages.set(m.id, { ...m, reactions: reactions.map(r => r.emoji === emoji ? { ...r, count, me } : r) })
        break
      }
      case 'room:updated':
        this.room = frame.payload.room
        break
      default:
        break
    }
  }
}

type Listener<A extends unknown[]> = (...args: A) => void
interface Events {
  status: [Status]
  frame: [ServerFrame]
  /** A room's state changed (a feed frame applied, a replay done, a reload). */
  room: [RoomState]
  /** You are no longer in the room (left, kicked, banned, deleted): its state is gone. */
  removed: [number, string]
  /** The token was refused or revoked (4401): the client stopped. */
  unauthorized: []
  error: [unknown]
}

const FEED = new Set(['message:new', 'message:updated', 'message:deleted', 'reaction:added', 'reaction:removed', 'member:joined', 'member:left', 'member:updated', 'room:updated'])
const OPEN = 1
/** How long one send attempt may take before it is tried again. */
const SEND_TIMEOUT_MS = 10_000

/**
 * The realtime client: one socket, reconnected with full-jitter exponential backoff; every room
 * resumed with `sync` from the last seq it applied; the feed applied in seq order with duplicates
 * dropped and gaps closed by a replay; per-room state. Sends go over REST with a `client_msg_id`
 * and are retried with the same id until the server answers (the server stores one message per id).
 */
export class ChatClient {
  readonly rooms = new Map<number, RoomState>()
  status: Status = 'idle'
  private socket: WebSocketLike | undefined
  private attempt = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private stopped = false
  private readonly listeners = new Map<keyof Events, Set<Listener<any>>>()
  private readonly openSocket: (url: string) => WebSocketLike
  private readonly fetch: typeof fetch
  private readonly random: () => number
  private readonly initialMs: number
  private readonly maxMs: number
  /** Removes the browser's online/offline listeners (none in Node). */
  private unwatchNetwork: (() => void) | undefined

  constructor (private readonly options: ChatClientOptions) {
    this.openSocket = options.webSocket ?? (url => new (globalThis as unknown as { WebSocket: new (url: string) => WebSocketLike }).WebSocket(url))
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis)
    this.random = options.random ?? Math.random
    this.initialMs = options.backoff?.initialMs ?? 500
    this.maxMs = options.backoff?.maxMs ?? 30_000
  }

  on<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    const set = this.listeners.get(event) ?? new Set()
    set.add(listener)
    this.listeners.set(event, set)
    return () => set.delete(listener)
  }

  private emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    for (const listener of this.listeners.get(event) ?? []) listener(...args)
  }

  private setStatus (status: Status): void {
    if (this.status === status) return
    this.status = status
    this.emit('status', status)
  }

  /** Loads your rooms and connects; resolves once the socket is open. Reconnects by itself until `close()`. */
  async connect (): Promise<void> {
    this.stopped = false
    this.watchNetwork()
    for (const room of await this.myRooms()) {
      const state = this.room(room.id)
      state.room = room
      state.lastReadSeq = Math.max(state.lastReadSeq, room.last_read_seq)
    }
    await new Promise<void>((resolve, reject) => {
      const off = this.on('status', status => {
        if (status === 'open') { off(); resolve() }
        if (status === 'closed') { off(); reject(new Error('the client was closed before the socket opened')) }
      })
      this.open()
    })
  }

  /** Stops: closes the socket, reconnects no more. */
  close (): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.unwatchNetwork?.()
    this.unwatchNetwork = undefined
    this.socket?.close(1000, 'client closed')
    this.setStatus('closed')
  }

  /**
   * In a browser, the `offline` event drops the socket at once (an open socket can outlive the
   * network for minutes before TCP notices, and the browser's own offline mode may leave it
   * delivering), and `online` reconnects at once instead of waiting out the backoff.
   */
  private watchNetwork (): void {
    const target = globalThis as { addEventListener?: (type: string, listener: () => void) => void, removeEventListener?: (type: string, listener: () => void) => void }
    if (this.unwatchNetwork !== undefined || typeof target.addEventListener !== 'function') return
    const offline = (): void => {
      const socket = this.socket
      if (socket === undefined) return
      socket.close(1000, 'offline')
      this.lost(socket, 1006)
    }
    const online = (): void => {
      if (this.stopped || this.socket !== undefined) return
      clearTimeout(this.timer)
      this.open()
    }
    target.addEventListener('offline', offline)
    target.addEventListener('online', online)
    this.unwatchNetwork = () => {
      target.removeEventListener?.('offline', offline)
      target.removeEventListener?.('online', online)
    }
  }

  /** Resolves when every room has caught up (no replay outstanding). */
  async synced (): Promise<void> {
    if (this.status === 'open' && [...this.rooms.values()].every(r => !r.resyncing)) return
    await new Promise<void>(resolve => {
      const off = this.on('room', () => {
        if (this.status === 'open' && [...this.rooms.values()].every(r => !r.resyncing)) { off(); resolve() }
      })
    })
  }

  /**
   * Sends a message over REST with a client_msg_id, retrying (the same id) on network errors, 5xx
   * and 429 until the server answers; resolves with the stored Message (201, or 200 for a retry the
   * server had already stored), rejects with the server's `{error, code}` for a refusal.
   */
  async send (roomId: number, content: string, extra: { reply_to?: number, attachment_ids?: number[] } = {}): Promise<Message> {
    const clientMsgId = randomId()
    for (let attempt = 0; ; attempt++) {
      if (this.stopped) throw new Error('the client was closed')
      let response: Response | undefined
      try {
        response = await this.fetch(`${this.options.baseUrl}/api/v1/messages`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.options.token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ room_id: roomId, content, client_msg_id: clientMsgId, ...extra }),
          // A request that hangs (a connection that died without closing) is tried again, with the same id.
          signal: AbortSignal.timeout(SEND_TIMEOUT_MS)
        })
      } catch {
        response = undefined // the connection failed: try again with the same id
      }
      if (response !== undefined && response.status < 300) return await response.json() as Message
      if (response !== undefined && response.status !== 429 && response.status < 500) {
        throw Object.assign(new Error(`send refused: ${response.status}`), { status: response.status, body: await response.json().catch(() => undefined) })
      }
      await sleep(this.delay(attempt))
    }
  }

  /**
   * Sends a frame that needs no acknowledgement (`typing`, `presence:get`) on the open socket;
   * false (nothing sent) while the socket is not open: such frames are not worth queueing.
   */
  sendFrame (frame: ClientFrame): boolean {
    if (this.socket?.readyState !== OPEN) return false
    this.socket.send(JSON.stringify(frame))
    return true
  }

  /**
   * Follows a room you just created or joined over REST (the socket is subscribed to it already):
   * its feed is replayed from the start, so its history shows too, not only what follows your join.
   */
  watch (roomId: number): RoomState {
    const state = this.room(roomId)
    if (state.messages.size === 0) {
      state.lastSeq = 0
      state.ahead.clear()
    }
    this.resync([roomId])
    return state
  }

  private room (id: number): RoomState {
    let state = this.rooms.get(id)
    if (state === undefined) {
      state = new RoomState(id, this.options.userId)
      this.rooms.set(id, state)
    }
    return state
  }

  private async myRooms (): Promise<Array<Room & { last_read_seq: number }>> {
    const rooms: Array<Room & { last_read_seq: number }> = []
    for (let offset = 0; ; offset += 100) {
      const page = await this.api<Array<Room & { last_read_seq: number }>>(`/api/v1/users/me/rooms?limit=100&offset=${offset}`)
      rooms.push(...page)
      if (page.length < 100) return rooms
    }
  }

  private async api<T>(path: string): Promise<T> {
    const response = await this.fetch(`${this.options.baseUrl}${path}`, { headers: { authorization: `Bearer ${this.options.token}` } })
    if (!response.ok) throw Object.assign(new Error(`GET ${path}: ${response.status}`), { status: response.status })
    return await response.json() as T
  }

  /** Full jitter: a random wait up to the capped exponential. */
  private delay (attempt: number): number {
    return Math.floor(this.random() * Math.min(this.maxMs, this.initialMs * 2 ** attempt))
  }

  private open (): void {
    this.setStatus(this.attempt === 0 ? 'connecting' : 'reconnecting')
    const url = `${this.options.baseUrl.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(this.options.token)}`
    const socket = this.openSocket(url)
    this.socket = socket
    socket.onopen = () => {
      this.setStatus('open')
      this.resync([...this.rooms.keys()])
    }
    socket.onmessage = event => {
      // A socket dropped by `offline` may still deliver: its frames are the replay's to bring.
      if (this.socket !== socket) return
      try {
        this.receive(JSON.parse(String(event.data)) as ServerFrame)
      } catch (err) {
        this.emit('error', err)
      }
    }
    socket.onerror = () => {}
    socket.onclose = event => { this.lost(socket, event.code) }
  }

  /** The socket closed (or was dropped): reconnect after the backoff, unless stopped or refused (4401). */
  private lost (socket: WebSocketLike, code: number): void {
    if (this.socket !== socket) return
    this.socket = undefined
    for (const state of this.rooms.values()) state.resyncing = false
    if (this.stopped) return
    if (code === 4401) {
      this.stopped = true
      this.setStatus('closed')
      this.emit('unauthorized')
      return
    }
    this.setStatus('reconnecting')
    this.timer = setTimeout(() => { this.open() }, this.delay(this.attempt++))
  }

  /** Asks the server to replay each room after the last seq applied (frames past a gap are dropped until it has). */
  private resync (roomIds: number[]): void {
    if (this.socket?.readyState !== OPEN || roomIds.length === 0) return
    const rooms: Record<string, number> = {}
    for (const id of roomIds) {
      const state = this.room(id)
      state.resyncing = true
      rooms[String(id)] = state.lastSeq
    }
    this.socket.send(JSON.stringify({ type: 'sync', payload: { rooms } } satisfies ClientFrame))
  }

  private receive (frame: ServerFrame): void {
    this.emit('frame', frame)
    if (FEED.has(frame.type)) {
      this.feed(frame as Extract<ServerFrame, { payload: { seq: number, room_id: number } }>)
      return
    }
    switch (frame.type) {
      case 'sync:done':
        this.attempt = 0
        for (const [id, upTo] of Object.entries(frame.payload.rooms)) {
          const state = this.rooms.get(Number(id))
          if (state === undefined) continue
          state.resyncing = false
          this.drain(state)
          // Still a gap (frames of the replay's span missing): ask again from where the room is.
          if (state.lastSeq < upTo || state.ahead.size > 0) this.resync([state.id])
          else this.emit('room', state)
        }
        // A room the replay was refused for (an `error` frame named it) is no longer ours.
        for (const state of this.rooms.values()) {
          if (state.resyncing && !(String(state.id) in frame.payload.rooms)) state.resyncing = false
        }
        break
      case 'sync:reset':
        this.reload(frame.payload.room_id).catch(() => {})
        break
      case 'room:added':
        this.room(frame.payload.room.id).room = frame.payload.room
        this.resync([frame.payload.room.id])
        break
      case 'room:removed':
        this.rooms.delete(frame.payload.room_id)
        this.emit('removed', frame.payload.room_id, frame.payload.reason)
        break
      case 'room:deleted':
        this.rooms.delete(frame.payload.room_id)
        this.emit('removed', frame.payload.room_id, 'deleted')
        break
      case 'read': {
        const state = this.rooms.get(frame.payload.room_id)
        if (state !== undefined) {
          state.lastReadSeq = Math.max(state.lastReadSeq, frame.payload.last_read_seq)
          this.emit('room', state)
        }
        break
      }
      case 'error':
        // A replay refused because you are no longer in the room: its state goes.
        if (frame.payload.room_id !== undefined && (frame.payload.code === 'NOT_A_MEMBER' || frame.payload.code === 'ROOM_NOT_FOUND')) this.rooms.delete(frame.payload.room_id)
        this.emit('error', frame.payload)
        break
      default:
        break
    }
  }

  /** A feed frame: applied if it is the room's next seq (with what waited behind it), dropped if seen already, kept past a gap (and a replay asked for). */
  private feed (frame: Extract<ServerFrame, { payload: { seq: number, room_id: number } }>): void {
    const { seq, room_id: roomId } = frame.payload
    const known = this.rooms.get(roomId)
    // Your own join of a room this client did not know: the socket listens from that frame on.
    const state = known ?? this.room(roomId)
    if (known === undefined && frame.type === 'member:joined' && frame.payload.user.id === this.options.userId) state.lastSeq = seq - 1
    if (seq <= state.lastSeq) return
    state.ahead.set(seq, frame)
    this.drain(state)
    if (state.ahead.size > 0 && !state.resyncing) this.resync([roomId])
  }

  /** Applies the frames that follow the last one applied, in order; drops those seen already. */
  private drain (state: RoomState): void {
    let applied = false
    for (const seq of state.ahead.keys()) if (seq <= state.lastSeq) state.ahead.delete(seq)
    for (let next = state.ahead.get(state.lastSeq + 1); next !== undefined; next = state.ahead.get(state.lastSeq + 1)) {
      state.ahead.delete(state.lastSeq + 1)
      state.apply(next)
      state.lastSeq++
      applied = true
    }
    if (applied) this.emit('room', state)
  }

  /** Over 1,000 frames behind: the newest page of history over REST, then the feed from its last message on. */
  private async reload (roomId: number): Promise<void> {
    try {
      const messages = await this.api<Message[]>(`/api/v1/rooms/${roomId}/messages?limit=100`)
      const state = this.room(roomId)
      state.messages.clear()
      for (const m of messages) state.messages.set(m.id, m)
      state.lastSeq = messages.at(-1)?.seq ?? 0
      state.resyncing = false
      this.resync([roomId])
    } catch (err) {
      this.emit('error', err)
    }
  }
}

function randomId (): string {
  const bytes = new Uint8Array(16)
  globalThis.crypto.getRandomValues(bytes)
  return [...bytes].map(b => b.toString(16).padStart(2, '0')).join('')
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}
