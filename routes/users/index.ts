import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { Config } from '../../src/config.js'
import { getUser, listUsers, login, register } from '../../src/domain/users.js'
import { alwaysErrors, authErrors, bearer, bodyErrors, errors, IdParams, Pagination } from '../../src/schemas/common.js'
import { LoginBody, LoginResponse, RegisterBody, User, UserList } from '../../src/schemas/users.js'

const byAddress = (request: { ip: string }): string => `ip:${request.ip}`

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
        'account from one address, that pair is locked for 15 minutes (429 with Retry-After).',
      body: Type.Ref(LoginBody),
      response: { 200: Type.Ref(LoginResponse, { description: 'Logged in' }), ...errors(...bodyErrors, 401, ...alwaysErrors) }
    }
  }, async (request) => {
    const user = await login({ db: app.db, passwords: app.passwords, lockout: config.rateLimit.enabled }, request.body, request.ip)
    return { token: app.signToken(user), user: { id: user.id, email: user.email, username: user.username } }
  })

  app.get('', {
    onRequest: app.authenticate,
    schema: {
      operationId: 'listUsers',
      tags: ['users'],
      summary: 'List users (emails only for yourself)',
      security: bearer,
      querystring: Pagination,
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
