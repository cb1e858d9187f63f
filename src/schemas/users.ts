import { Type, type Static } from '@sinclair/typebox'
import { Id, NO_NUL, Timestamp } from './common.js'

export const User = Type.Object({
  id: Id,
  email: Type.Optional(Type.String({ format: 'email', description: 'Shown only to the user themself (and to admins)', examples: ['user@example.com'] })),
  username: Type.String({ examples: ['johndoe'] }),
  created_at: Timestamp
}, { $id: 'User', title: 'User' })

export const RegisterBody = Type.Object({
  email: Type.String({ format: 'email', maxLength: 255, examples: ['user@example.com'] }),
  password: Type.String({ minLength: 8, maxLength: 128, pattern: NO_NUL, description: '8 to 128 characters, not a commonly used password', examples: ['SecureP@ssw0rd'] }),
  username: Type.String({ minLength: 1, pattern: NO_NUL, description: '1 to 100 characters after trimming', examples: ['johndoe'] })
}, { $id: 'RegisterRequest', title: 'RegisterRequest', additionalProperties: false })

export const LoginBody = Type.Object({
  email: Type.String({ minLength: 1, maxLength: 255, examples: ['user@example.com'] }),
  password: Type.String({ minLength: 1, maxLength: 1024, examples: ['SecureP@ssw0rd'] })
}, { $id: 'LoginRequest', title: 'LoginRequest', additionalProperties: false })

export const LoginResponse = Type.Object({
  token: Type.String({ description: 'A JWT (HS256) to send as `Authorization: Bearer <token>`' }),
  user: Type.Object({
    id: Id,
    email: Type.String({ format: 'email' }),
    username: Type.String()
  })
}, { $id: 'LoginResponse', title: 'LoginResponse' })

export const UserList = Type.Array(Type.Ref(User), { $id: 'UserList', title: 'UserList' })

export type RegisterInput = Static<typeof RegisterBody>
export type LoginInput = Static<typeof LoginBody>
export type UserView = Static<typeof User>
