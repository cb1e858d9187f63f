import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { addressKey } from '../../src/chat/addresses.js'
import type { Config } from '../../src/config.js'
import { myInvites } from '../../src/chat/invites.js'
import { myRooms } from '../../src/chat/read-state.js'
import { userStats } from '../../src/chat/stats.js'
import { getUser, listUsers, login, logout, register, setAccountDisabled, updateMe } from '../../src/chat/users.js'
import { alwaysErrors, authErrors, bearer, bodyErrors, ErrorResponse, errors, IdParams, Pagination } from '../../src/schemas/common.js'
import { MyInviteList, MyRoomList } from '../../src/schemas/rooms.js'
import { UserStats } from '../../src/schemas/stats.js'
import { AdminUpdateBody, LoginBody, LoginResponse, RegisterBody, UpdateMeBody, User, UserList, UsersQuery } from '../../src/schemas/users.js'

const byAddress = (request: { ip: string }): string => `ip:${addressKey(request.ip)}`
/** After `authenticate` (route hooks run first): the account, wherever its requests come from. */
const byAccount = (request: { user: { id: number } }): string => `user:${request.user.id}`

const users: FastifyPluginAsyncTypebox<{ config: Config }> = async function (app, { config }) {
  app.post('/register', {
    config: { rateLimit: { max: config.rateLimit.register, timeWindow: 3_600_000, keyGenerator: byAddress, hook: 'onRequest' } },
    schema: {
      operationId: 'registerUser',
      tags: ['users'],
      summary: 'Create an account',
      security: [],
      body: Type.Ref(RegisterBody),
      response: { 201: Type.Ref(User, { description: 'Created (the email is shown to its owner)' }), ...errors(...bodyErrors, 409, ...alwaysErrors) }
    }
  }, async (request, reply) => {
    const user = await register(app, request.body)
    return await reply.code(201).send(user)
  })

  app.post('/login', {
    config: { rateLimit: { max: config.rateLimit.login, timeWindow: 60_000, keyGenerator: byAddress, hook: 'onRequest' } },
    schema: {
      operationId: 'loginUser',
      tags: ['users'],
      summary: 'Exchange email and password for a token',
      security: [],
      description: 'An unknown email and a wrong password give the same 401. After 10 failures in 15 minutes for one ' +
        'account from one address (an IPv6 address counts by its /64), that pair is locked for 15 minutes (429 ' +
        'LOGIN_LOCKED with Retry-After). After 100 failures in an hour for one account from all addresses, only ' +
        'addresses where its password was checked right in the last 30 days may try it. A disabled account ' +
        'gets 403 ACCOUNT_DISABLED, but only with the right password.',
      body: Type.Ref(LoginBody),
      response: {
        200: Type.Ref(LoginResponse, { description: 'Logged in' }),
        403: Type.Ref(ErrorResponse, { description: 'The account is disabled (ACCOUNT_DISABLED): said only when the password is right' }),
        ...errors(...bodyErrors, 401, ...alwaysErrors)
      }
    }
  }, async (request) => {
    const user = await login({ db: app.db, passwords: app.passwords, lockout: config.rateLimit.enabled }, request.body, request.ip)
    return { token: app.signToken(user), user: { id: user.id, email: user.email, username: user.username } }
  })

  app.post('/logout', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'logoutUser',
      tags: ['users'],
      summary: 'Log out everywhere: revoke every token of yours',
      description: 'A JWT cannot be taken back one by one, so this revokes every token you hold, on every device, ' +
        'including the one sending this request; your open WebSockets are closed with 4401. Log in again for a new token.',
      security: bearer,
      response: { 204: Type.Null({ description: 'Logged out: every token issued before now is refused' }), ...errors(...authErrors) }
    }
  }, async (request, reply) => {
    await logout(app, request.user.id)
    return await reply.code(204).send(null)
  })

  app.get('/me', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'getMe',
      tags: ['users'],
      summary: 'Your own account (with your email)',
      security: bearer,
      response: { 200: Type.Ref(User, { description: 'You' }), ...errors(...authErrors) }
    }
  }, async (request) => await getUser(app, request.user.id, request.user))

  app.get('/me/rooms', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'listMyRooms',
      tags: ['rooms'],
      summary: 'Your rooms, most recent activity first',
      description: 'Each Room with your `role`, `last_read_seq`, `unread_count` (the room\'s messages after your marker that are not deleted and not yours) ' +
        'and `last_message` (its newest message that is not deleted, or null). Its cost follows your rooms and what is unread in them, not their history.',
      security: bearer,
      querystring: Pagination,
      response: { 200: Type.Ref(MyRoomList, { description: 'Your rooms' }), ...errors(400, ...authErrors) }
    }
  }, async (request) => await myRooms(app, request.user.id, request.query))

  app.get('/me/invites', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'listMyInvites',
      tags: ['rooms'],
      summary: 'Your pending invites, newest first',
      description: 'Each invite with its Room as you see it (a private room is visible to you while you are invited). ' +
        'Joining the room uses the invite up; `DELETE /rooms/{id}/invites/{your id}` declines it.',
      security: bearer,
      querystring: Pagination,
      response: { 200: Type.Ref(MyInviteList, { description: 'Your invites, newest first' }), ...errors(400, ...authErrors) }
    }
  }, async (request) => await myInvites(app, request.user.id, request.query))

  app.get('/me/stats', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'getMyStats',
      tags: ['users'],
      summary: 'Your numbers: messages sent, rooms, last seen, the last 30 days',
      description: 'Every day is a UTC day; a deleted message still counts (the numbers are of messages sent). Messages are ' +
        'counted by a rollup that this request runs first, so they are current.',
      security: bearer,
      response: { 200: Type.Ref(UserStats, { description: 'Your numbers' }), ...errors(...authErrors) }
    }
  }, async (request) => await userStats(app.db, request.user.id))

  app.patch('/me', {
    onRequest: app.authenticate,
    // The registration budget, per account: each 409 EMAIL_TAKEN tells whether an address is registered.
    config: { rateLimit: { max: config.rateLimit.register, timeWindow: 3_600_000, keyGenerator: byAccount, hook: 'onRequest' } },
    schema: {
      operationId: 'updateMe',
      tags: ['users'],
      summary: 'Change your username, email or password',
      description: 'Needs `current_password`; a wrong one is 401 and changes nothing (it counts as a failed login for the ' +
        'lockout). A new email or password revokes every token you hold and closes your open WebSockets (4401); ' +
        'the response carries a fresh token, so you stay signed in here. At most RATE_LIMIT_REGISTER (20) changes an hour per account.',
      security: bearer,
      body: Type.Ref(UpdateMeBody),
      response: { 200: Type.Ref(LoginResponse, { description: 'Changed: a fresh token and your account' }), ...errors(...bodyErrors, 409, ...authErrors) }
    }
  }, async (request) => {
    const user = await updateMe({ db: app.db, passwords: app.passwords, bus: app.bus, lockout: config.rateLimit.enabled }, request.user.id, request.body, request.ip)
    return { token: app.signToken(user), user: { id: user.id, email: user.email, username: user.username } }
  })

  app.patch('/:id', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'adminUpdateUser',
      tags: ['users'],
      summary: 'Admins: disable or enable an account',
      description: 'Disabling revokes every token of the account and closes its WebSockets (4401); it cannot log in ' +
        '(403 ACCOUNT_DISABLED) until enabled again. An admin cannot disable themself (409 CANNOT_DISABLE_SELF).',
      security: bearer,
      params: IdParams,
      body: Type.Ref(AdminUpdateBody),
      response: {
        200: Type.Ref(User, { description: 'The account as it is now (`disabled_at` set or null)' }),
        403: Type.Ref(ErrorResponse, { description: 'You are not an admin (ADMIN_ONLY)' }),
        409: Type.Ref(ErrorResponse, { description: 'An admin cannot disable themself (CANNOT_DISABLE_SELF)' }),
        ...errors(...bodyErrors, 404, ...authErrors)
      }
    }
  }, async (request) => await setAccountDisabled(app, request.params.id, request.body.disabled, request.user))

  app.get('', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'listUsers',
      tags: ['users'],
      summary: 'List users (emails only for yourself)',
      description: 'By id. `q` keeps the users whose username contains it, case-insensitively (`%`, `_` and `\\` are ordinary characters): for finding someone to open a DM with.',
      security: bearer,
      querystring: UsersQuery,
      response: { 200: Type.Ref(UserList, { description: 'Users by id' }), ...errors(400, ...authErrors) }
    }
  }, async (request) => await listUsers(app, request.query, request.user))

  app.get('/:id', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'getUser',
      tags: ['users'],
      summary: 'One user (the email only if it is you)',
      security: bearer,
      params: IdParams,
      response: { 200: Type.Ref(User, { description: 'The user' }), ...errors(400, 404, ...authErrors) }
    }
  }, async (request) => await getUser(app, request.params.id, request.user))
}

export default users
