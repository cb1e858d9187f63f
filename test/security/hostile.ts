import { createHmac } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { json, testConfig, type Session } from '../helper.js'

/** Helpers shared by the hostile-input suite in test/security/. */

export const secret = testConfig().jwt.secret
export const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
export const now = (): number => Math.floor(Date.now() / 1000)

/** A JWT made by hand, so a test can get every part of it wrong on purpose (`key: null` leaves it unsigned). */
export function craftToken (header: Record<string, unknown>, payload: Record<string, unknown>, key: string | null = secret): string {
  const head = `${b64(header)}.${b64(payload)}`
  if (key === null) return `${head}.`
  const algorithm = header.alg === 'HS512' ? 'sha512' : header.alg === 'HS384' ? 'sha384' : 'sha256'
  return `${head}.${createHmac(algorithm, key).update(head).digest('base64url')}`
}

/** The claims a token of ours carries, valid for an hour. */
export function claims (userId: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { sub: String(userId), role: 'user', iss: 'chat-app', aud: 'chat-app', iat: now(), exp: now() + 3600, ...extra }
}

export const HS256 = { alg: 'HS256', typ: 'JWT' }

/** Asserts a 4xx with the `{"error"}` shape (never a 5xx), and returns the body. */
export function isClientError (t: Test, res: LightMyRequestResponse, status: number | number[], label: string): { error: string, code?: string } {
  const allowed = Array.isArray(status) ? status : [status]
  t.ok(allowed.includes(res.statusCode), `${label}: status ${res.statusCode} is ${allowed.join(' or ')}`)
  t.ok(res.statusCode < 500, `${label}: never a 5xx`)
  const body = json(res)
  t.type(body.error, 'string', `${label}: {"error"} body`)
  t.not(body.error, 'Bad Request', `${label}: a sentence, not just "Bad Request"`)
  return body
}

/** The last case of every file: after all of the above the server still answers normally. */
export function stillHealthy (t: Test, app: FastifyInstance, user: Session): void {
  t.test('the server is still healthy afterwards', async t => {
    const health = await app.inject({ url: '/health' })
    t.equal(health.statusCode, 200, '/health is 200')
    t.match(json(health), { status: 'OK' })
    const rooms = await app.inject({ url: '/api/v1/rooms', headers: user.auth })
    t.equal(rooms.statusCode, 200, 'a normal request works')
    t.ok(Array.isArray(json(rooms)))
  })
}
