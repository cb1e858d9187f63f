import fastifyJwt, { type FastifyJWT } from '@fastify/jwt'
import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { findAuthState } from '../../db/users.js'
import { type AuthState, AuthStates } from './auth-states.js'
import { SeenTracker } from '../../src/chat/activity.js'
import type { Config } from '../../src/config.js'
import { unauthorized } from '../../src/errors.js'
import { FreshReads } from '../../src/fresh-reads.js'
import { INT32_MAX } from '../../src/limits.js'

/**
 * The token's user; `exp` (seconds since the epoch) is when the token expires; `ver` the user's
 * token version it was issued under. `role` and `username` are the user's current ones (read with the version).
 */
export interface AuthUser { id: number, username: string, role: string, ver: number, exp?: number }

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string, role: string, ver?: number, exp?: number }
    user: AuthUser
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * onRequest hook: 401 unless the request carries a valid token of an existing, enabled user,
     * issued under their current token version; sets `request.user`. One primary-key lookup.
     */
    authenticate: (request: FastifyRequest, reply: FastifyReply) => Promise<void>
    /**
     * Whether the request's token has a good signature and claims (sets `request.user` when it
     * has); no database read. Checked once per request: the global rate limit's key and
     * `authenticate` both ask, and the second gets the first's answer.
     */
    verifyToken: (request: FastifyRequest) => Promise<boolean>
    signToken: (user: { id: number, role: string, token_version: number }) => string
    /** The user's auth state (name, role, token version, disabled), as `authenticate` reads it: cached for AUTH_CACHE_SECONDS. */
    authState: (userId: number) => Promise<AuthState | undefined>
    /**
     * Whether the token is still good, read from the database by a read begun after the call (no
     * cache; calls at the same time share one): a socket that opened while it was being revoked.
     */
    isTokenCurrent: (user: AuthUser) => Promise<boolean>
    /** The user was active (an authenticated request, a socket open): `last_seen_at`, at most once a minute (src/chat/activity.ts). */
    markSeen: (userId: number) => void
  }
}

const INVALID = 'Missing or invalid authentication token'

/** The user a verified token names. A token from before revocation existed has no `ver`: it counts as version 0 (revoked by the first bump). */
function userOf (payload: FastifyJWT['payload']): AuthUser {
  return { id: Number(payload.sub), username: '', role: payload.role, ver: payload.ver ?? 0, exp: payload.exp }
}

/** Where a token may come from: `Authorization: Bearer` always; `?token=` and the subprotocol only on the WebSocket upgrade. */
function extractToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(header)
    return match?.[1]
  }
  if (request.routeOptions.config.websocketToken !== true) return undefined
  const query = request.query as Record<string, unknown> | undefined
  if (typeof query?.token === 'string') return query.token
  const protocols = request.headers['sec-websocket-protocol']?.split(',').map(p => p.trim()) ?? []
  // A browser can't set headers on a WebSocket: it may offer `bearer, <token>` as subprotocols.
  const i = protocols.findIndex(p => p.toLowerCase() === 'bearer')
  return i >= 0 ? protocols[i + 1] : undefined
}

declare module 'fastify' {
  interface FastifyRequest {
    /** `verifyToken`'s answer for this request, once asked. */
    tokenCheck: boolean | null
  }
  interface FastifyContextConfig {
    /** Accept the token from `?token=` or the subprotocol (WebSocket upgrades only). */
    websocketToken?: boolean
  }
}

export interface AuthOptions {
  jwt: Config['jwt']
  /** How long a user's auth state is reused without asking the database (AUTH_CACHE_SECONDS). */
  cacheMs: number
}

export default fp<AuthOptions>(async function authPlugin (app, opts) {
  const { secret, expiresIn, issuer, audience } = opts.jwt
  await app.register(fastifyJwt, {
    secret,
    sign: { algorithm: 'HS256', iss: issuer, aud: audience, expiresIn },
    // HS256 only: a token signed with `none` or any other algorithm is refused.
    // `cache`: fast-jwt remembers the last 1,000 tokens it verified, each until it expires (at most
    // 10 minutes): a client's next request with the same token skips the signature check.
    // Revocation is not the signature's business: `authenticate` checks the token version each time.
    verify: { algorithms: ['HS256'], allowedIss: issuer, allowedAud: audience, requiredClaims: ['sub', 'exp', 'iss', 'aud'], extractToken, cache: true },
    formatUser: userOf
  })

  app.decorate('signToken', (user: { id: number, role: string, token_version: number }) =>
    app.jwt.sign({ sub: String(user.id), role: user.role, ver: user.token_version }))

  const states = new AuthStates(opts.cacheMs, 50_000)
  const load = async (id: number): Promise<AuthState | undefined> => await findAuthState(app.db, id)
  const valid = (state: AuthState | undefined, user: AuthUser): state is AuthState =>
    state !== undefined && state.disabled_at === null && state.token_version === user.ver
  app.decorate('authState', async (userId: number) => await states.get(userId, load))
  // Not cached, but shared: the checks of a burst of sockets are one or two reads, each begun after the socket was added.
  const current = new FreshReads(load)
  app.decorate('isTokenCurrent', async (user: AuthUser) => valid(await current.get(user.id), user))
  // A revocation on this instance or another one: the cache forgets the user at once.
  const unsubscribe = app.bus.subscribe(event => { if (event.type === 'user:revoked') states.revoke(event.user_id, event.token_version) })
  app.addHook('onClose', async () => { unsubscribe() })
  const activity = new SeenTracker(app.db, app.log)
  app.decorate('markSeen', (userId: number) => { activity.seen(userId) })

  // app.jwt.verify rather than request.jwtVerify: the same verifier, its cache included, without
  // what request.jwtVerify does first on every request (decode the token again for a secret
  // callback we don't have, merge its options): 6 % of the server's CPU for a search (bench P12, perf).
  const verified = (request: FastifyRequest): boolean => {
    const presented = extractToken(request)
    if (presented === undefined) return false
    try {
      request.user = userOf(app.jwt.verify<FastifyJWT['payload']>(presented))
      return true
    } catch {
      return false
    }
  }
  app.decorateRequest('tokenCheck', null)
  app.decorate('verifyToken', async (request: FastifyRequest) => {
    request.tokenCheck ??= verified(request)
    return request.tokenCheck
  })

  app.decorate('authenticate', async (request: FastifyRequest) => {
    if (!await app.verifyToken(request)) throw unauthorized(INVALID)
    const { user } = request
    if (!Number.isSafeInteger(user.id) || user.id < 1 || user.id > INT32_MAX) throw unauthorized(INVALID)
    // Revocation: a JWT is valid until it expires, so every request checks that the user still
    // exists, is enabled, and has not revoked this token (logout, new password or email): in the
    // database, or in what it said less than `cacheMs` ago (revocations and re-enabling clear that at once).
    const state = await states.get(user.id, load)
    if (!valid(state, user)) throw unauthorized(INVALID)
    user.role = state.role
    user.username = state.username
    activity.seen(user.id)
  })
}, { name: 'auth', dependencies: ['db', 'bus'] })
