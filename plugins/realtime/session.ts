import type { FastifyBaseLogger } from 'fastify'
import type { RawData } from 'ws'
import { AppError, toErrorBody } from '../../src/errors.js'
import type { ServerFrame } from '../../src/schemas/realtime.js'
import type { FrameBudget } from './budget.js'
import { type Client, CloseCode, type Hub } from './hub.js'

/** Frames a socket may have waiting; past this the server stops reading from it until they are done. */
const MAX_PENDING_FRAMES = 32
/** Abuse: a socket whose frames the rate limits refused this many times within ABUSE_WINDOW_MS is closed (1008) after its error frame. */
export const ABUSE_REFUSALS = 10
export const ABUSE_WINDOW_MS = 10_000
/** Longest delay a Node.js timer takes; a token that lives longer is checked again when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** One authenticated socket, as frame handlers see it: who it is, and what they may do with it. */
export class Session {
  /** When this socket's recent frames were refused by a rate limit (ms timestamps, oldest first). */
  private readonly refusals: number[] = []

  constructor (
    private readonly hub: Hub,
    readonly client: Client,
    readonly log: FastifyBaseLogger,
    private readonly budget: FrameBudget | undefined
  ) {}

  get userId (): number {
    return this.client.userId
  }

  /** Whether this socket listens to the room. */
  listensTo (roomId: number): boolean {
    return this.client.rooms.has(roomId)
  }

  send (frame: ServerFrame): void {
    this.hub.send(this.client, JSON.stringify(frame))
  }

  subscribe (roomId: number): void {
    this.hub.subscribe(this.client, roomId)
  }

  unsubscribe (roomId: number): void {
    this.hub.unsubscribe(this.client, roomId)
  }

  /** A room's catch-up, merged with its live frames in order (see `Hub.catchUp`). */
  async catchUp (roomId: number, read: Parameters<Hub['catchUp']>[2]): Promise<number | undefined> {
    return await this.hub.catchUp(this.client, roomId, read)
  }

  /**
   * Spends `units` of the user's frame budget; throws 429 when it is spent (nothing done).
   * `debt`: work already done (rows a catch-up sent) is charged even past the budget.
   */
  charge (units: number, debt = false): void {
    this.budget?.spend(this.client.userId, units, debt)
  }

  /** Gives back units charged for work that turned out smaller (see the `sync` handler's reservation). */
  refund (units: number): void {
    this.budget?.refund(this.client.userId, units)
  }

  /** Work of this socket's frames still running after their turn ended (see `finishLater`). */
  private unfinished = 0

  /**
   * Ends the frame's turn, so the socket's next frame starts, while `work` finishes: for a send
   * that has taken its place in its room's queue (src/chat/send-queue.ts), so one socket's sends
   * are stored in the order they came and those that wait go out together in one statement. What
   * `work` throws becomes an `error` frame. At most MAX_PENDING_FRAMES at once: past that a frame
   * waits for its work, as every other frame does.
   */
  async finishLater (work: Promise<unknown>): Promise<void> {
    if (this.unfinished >= MAX_PENDING_FRAMES) {
      await work
      return
    }
    this.unfinished++
    work.catch((err: unknown) => { this.refuse(err) }).finally(() => { this.unfinished-- }).catch(() => {})
  }

  /** The `error` frame for anything a handler threw (the same mapping as REST); `extra` names what it was about. */
  refuse (err: unknown, extra: { room_id?: number } = {}): void {
    const { body, retryAfter } = toErrorBody(err, this.log)
    this.send({ type: 'error', payload: { ...body, ...(retryAfter === undefined ? {} : { retry_after: retryAfter }), ...extra } })
    if (err instanceof AppError && err.statusCode === 429) this.countRefusal()
  }

  /** A socket that keeps sending past the rate limits is closed after its error frame (1008). */
  private countRefusal (): void {
    const now = Date.now()
    this.refusals.push(now)
    while (this.refusals.length > 0 && now - this.refusals[0]! > ABUSE_WINDOW_MS) this.refusals.shift()
    if (this.refusals.length >= ABUSE_REFUSALS) {
      this.log.warn({ userId: this.userId }, 'closing a websocket that keeps sending past the rate limit (1008)')
      this.client.socket.close(CloseCode.POLICY_VIOLATION, 'Policy violation: too many messages past the rate limit')
    }
  }
}

export interface ServeOptions {
  /** When the token expires (seconds since the epoch): the socket is closed with 4401 then. */
  exp?: number | undefined
  /** The first work, before any frame: false closes the socket with 4401 (its token was revoked meanwhile). */
  verify: () => Promise<boolean>
  /** Work to do once verified, before any frame (`?since=`). */
  start?: (session: Session) => Promise<void>
  /** Handles one frame; what it throws becomes an `error` frame. */
  dispatch: (data: RawData, isBinary: boolean, session: Session) => Promise<void>
  /** Told once the socket has closed (after the hub let it go). */
  onClose?: (session: Session) => void
}

/**
 * Serves one socket the hub has taken in: its frames one at a time, in the order they arrived
 * (a frame costs one unit of the user's frame budget before its handler runs; queued frames of a
 * socket that closed are dropped), reading paused while too many wait. A refused frame gets an
 * `error` frame and the socket stays open, unless it keeps hitting the rate limits (1008). It is
 * closed with 4401 when its token expires.
 */
export function serveSession (session: Session, options: ServeOptions): void {
  const { client, log } = session
  const { socket } = client

  let queue = Promise.resolve()
  let pending = 0
  function enqueue (work: () => Promise<void>): void {
    if (++pending === MAX_PENDING_FRAMES) socket.pause()
    queue = queue
      .then(async () => { if (socket.readyState === socket.OPEN) await work() })
      .catch(err => { session.refuse(err) })
      .finally(() => { if (--pending === MAX_PENDING_FRAMES / 2) socket.resume() })
  }
  enqueue(async () => {
    if (!await options.verify()) {
      log.info({ userId: client.userId }, 'closing a websocket whose token was revoked while it opened (4401)')
      socket.close(CloseCode.UNAUTHORIZED, 'Token revoked')
      return
    }
    await options.start?.(session)
  })
  socket.on('message', (data: RawData, isBinary: boolean) => {
    enqueue(async () => {
      session.charge(1)
      await options.dispatch(data, isBinary, session)
    })
  })
  socket.on('pong', () => { client.alive = true })

  let expiry: NodeJS.Timeout | undefined
  const closeWhenExpired = (): void => {
    const left = (options.exp ?? Infinity) * 1000 - Date.now()
    if (left === Infinity) return
    if (left > 0) {
      expiry = setTimeout(closeWhenExpired, Math.min(left, MAX_TIMER_MS))
      return
    }
    log.info({ userId: client.userId }, 'closing a websocket whose token expired (4401)')
    socket.close(CloseCode.UNAUTHORIZED, 'Token expired')
  }
  closeWhenExpired()

  socket.on('close', () => {
    clearTimeout(expiry)
    options.onClose?.(session)
  })
}
