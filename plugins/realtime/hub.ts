import type { WebSocket } from 'ws'

/** Close codes the server uses (RFC 6455 section 7.4 and the IANA registry). */
export const CloseCode = {
  /** The server is shutting down. */
  GOING_AWAY: 1001,
  /** Abuse: the socket kept sending frames the rate limit refused. */
  POLICY_VIOLATION: 1008,
  /** A frame over the size limit (sent by `ws` itself, from `maxPayload`). */
  TOO_BIG: 1009,
  /** The client reads too slowly: its unsent buffer passed the limit. */
  TRY_AGAIN_LATER: 1013,
  /** The token the socket was opened with has expired or was revoked (or was never valid): log in again. */
  UNAUTHORIZED: 4401
} as const

/** One open socket and what it listens to. */
export class Client {
  /** Rooms whose events this socket receives. */
  readonly rooms = new Set<number>()
  /** Cleared before each heartbeat ping, set again by the pong. */
  alive = true
  /** Rooms being caught up (`sync`): live events wait here until the catch-up is sent. */
  readonly syncing = new Map<number, Array<{ seq: number, frame: Buffer }>>()
  /** Per room, the highest seq a catch-up sent: live events at or below it are duplicates. */
  readonly floor = new Map<number, number>()
  /** Per room, seqs delivered live since the last catch-up of that room, so a catch-up skips them. */
  readonly liveSeen = new Map<number, Set<number>>()
  /** When this socket's recent sends were refused by the rate limit (ms timestamps, oldest first). */
  readonly refusedSends: number[] = []
  /** The rooms it was subscribed to when the hub let it go (the user's offline announcement goes there). */
  roomsAtRemoval: number[] = []

  constructor (readonly socket: WebSocket, readonly userId: number, readonly tokenVersion = 0) {}
}

/** How many live seqs per room a socket remembers between catch-ups (past it, a catch-up may repeat some). */
const LIVE_SEEN_MAX = 256
/** Live events a socket may hold while its catch-up is being sent; past it, it is a slow consumer. */
const SYNC_BUFFER_MAX = 5000

export interface HubOptions {
  /** A socket whose unsent buffer passes this many bytes is closed with 1013. */
  maxBufferedBytes: number
  /** Told when a slow consumer is dropped. */
  onSlowConsumer?: (client: Client) => void
  /** Told of every revocation, local or from another instance, before the sockets close. */
  onRevoke?: (userId: number, tokenVersion: number) => void
}

/**
 * The sockets of this instance, indexed by room and by user. It only delivers: what reaches it
 * (locally or from other instances) is decided by the fan-out.
 */
export class Hub {
  readonly clients = new Set<Client>()
  private readonly byRoom = new Map<number, Set<Client>>()
  private readonly byUser = new Map<number, Set<Client>>()

  constructor (private readonly options: HubOptions) {}

  add (socket: WebSocket, userId: number, roomIds: Iterable<number>, tokenVersion = 0): Client {
    const client = new Client(socket, userId, tokenVersion)
    this.clients.add(client)
    addTo(this.byUser, userId, client)
    for (const roomId of roomIds) this.subscribe(client, roomId)
    return client
  }

  remove (client: Client): void {
    if (!this.clients.delete(client)) return
    removeFrom(this.byUser, client.userId, client)
    for (const roomId of client.rooms) removeFrom(this.byRoom, roomId, client)
    client.roomsAtRemoval = [...client.rooms]
    client.rooms.clear()
    client.syncing.clear()
  }

  subscribe (client: Client, roomId: number): void {
    if (!this.clients.has(client) || client.rooms.has(roomId)) return
    client.rooms.add(roomId)
    addTo(this.byRoom, roomId, client)
  }

  unsubscribe (client: Client, roomId: number): void {
    if (client.rooms.delete(roomId)) removeFrom(this.byRoom, roomId, client)
  }

  /** Subscribes every local socket of a user to a room (the user joined it). */
  subscribeUser (userId: number, roomId: number): void {
    for (const client of this.byUser.get(userId) ?? []) this.subscribe(client, roomId)
  }

  /** Closes (4401) every local socket of the user opened with a token older than `tokenVersion` (revoked). */
  revokeUser (userId: number, tokenVersion: number): void {
    this.options.onRevoke?.(userId, tokenVersion)
    for (const client of [...this.byUser.get(userId) ?? []]) {
      if (client.tokenVersion < tokenVersion) client.socket.close(CloseCode.UNAUTHORIZED, 'Token revoked')
    }
  }

  /** Whether the user has a socket open on this instance. */
  hasUser (userId: number): boolean {
    return this.byUser.has(userId)
  }

  /**
   * Sends one already-serialized frame to every local socket subscribed to the room.
   * The caller serializes once; every socket gets the same bytes. `seq` (a message's position in
   * the room) lets a socket that is catching up hold the frame back, or skip one it already got.
   * `exceptUserId`: that user's sockets are skipped (their own typing and presence).
   * Returns how many sockets got it (or hold it).
   */
  deliver (roomId: number, frame: Buffer, seq?: number, exceptUserId?: number): number {
    const clients = this.byRoom.get(roomId)
    if (clients === undefined) return 0
    let sent = 0
    // A copy: a slow consumer is removed from the set while we iterate.
    for (const client of [...clients]) {
      if (client.userId === exceptUserId) continue
      if (this.offer(client, roomId, frame, seq)) sent++
    }
    return sent
  }

  private offer (client: Client, roomId: number, frame: Buffer, seq: number | undefined): boolean {
    if (seq === undefined) return this.send(client, frame)
    const held = client.syncing.get(roomId)
    if (held !== undefined) {
      if (held.length >= SYNC_BUFFER_MAX) return this.dropSlow(client)
      held.push({ seq, frame })
      return true
    }
    const floor = client.floor.get(roomId)
    if (floor !== undefined && seq <= floor) return false
    let seen = client.liveSeen.get(roomId)
    if (seen === undefined) client.liveSeen.set(roomId, seen = new Set())
    if (seen.size < LIVE_SEEN_MAX) seen.add(seq)
    return this.send(client, frame)
  }

  /**
   * Sends a frame to one socket unless it is not open. A socket whose unsent buffer passes the
   * limit is closed with 1013 and dropped, instead of letting the buffer grow without bound.
   */
  send (client: Client, frame: Buffer | string): boolean {
    const { socket } = client
    if (socket.readyState !== socket.OPEN) return false
    socket.send(frame, { binary: false })
    if (socket.bufferedAmount > this.options.maxBufferedBytes) this.dropSlow(client)
    return true
  }

  /**
   * Sends a frame and, when the socket's buffer is getting full, waits until it has been written
   * out: for catch-up, where the server (not the room) decides the pace.
   */
  async sendPaced (client: Client, frame: Buffer | string): Promise<void> {
    const { socket } = client
    if (socket.readyState !== socket.OPEN) return
    if (socket.bufferedAmount < this.options.maxBufferedBytes / 4) {
      socket.send(frame, { binary: false })
      return
    }
    await new Promise<void>(resolve => { socket.send(frame, { binary: false }, () => resolve()) })
  }

  private dropSlow (client: Client): false {
    this.remove(client)
    this.options.onSlowConsumer?.(client)
    // The close frame queues behind what is buffered; `ws` destroys the socket if the
    // closing handshake has not finished within its close timeout (30 s).
    client.socket.close(CloseCode.TRY_AGAIN_LATER, 'Slow consumer: reading too slowly')
    return false
  }

  /** How many local sockets are subscribed to a room. */
  roomSize (roomId: number): number {
    return this.byRoom.get(roomId)?.size ?? 0
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

function removeFrom<K> (map: Map<K, Set<Client>>, key: K, client: Client): void {
  const set = map.get(key)
  if (set === undefined) return
  set.delete(client)
  if (set.size === 0) map.delete(key)
}
