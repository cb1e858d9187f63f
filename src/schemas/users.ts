import { Type, type Static } from '@sinclair/typebox'
import { EMAIL_MAX, LOGIN_PASSWORD_MAX, PAGE_MAX, PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX } from '../limits.js'
import { Id, MAX_RAW_TEXT, NO_NUL, Pagination, Timestamp } from './common.js'

const USERNAME_RULE = '1 to 100 characters after trimming, at least one visible; no control, bidi-override or invisible ' +
  '(default-ignorable) characters (400); unique case-insensitively after NFKC normalization (409 USERNAME_TAKEN); ' +
  'not admin, administrator, root, system, support, moderator or owner (400 USERNAME_RESERVED)'

export const User = Type.Object({
  id: Id,
  email: Type.Optional(Type.String({ format: 'email', maxLength: EMAIL_MAX, description: 'Shown only to the user themself (and to admins)', examples: ['user@example.com'] })),
  username: Type.String({ minLength: 1, maxLength: USERNAME_MAX, examples: ['johndoe'] }),
  created_at: Timestamp,
  disabled_at: Type.Optional(Type.Union([Timestamp, Type.Null()], { description: 'Shown only to admins: when an admin disabled the account (null: active)' }))
}, { $id: 'User', title: 'User' })

export const RegisterBody = Type.Object({
  email: Type.String({ format: 'email', maxLength: EMAIL_MAX, examples: ['user@example.com'] }),
  password: Type.String({ minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX, pattern: NO_NUL, description: '8 to 128 characters, not a commonly used password', examples: ['SecureP@ssw0rd'] }),
  username: Type.String({ minLength: 1, maxLength: MAX_RAW_TEXT, pattern: NO_NUL, description: USERNAME_RULE, examples: ['johndoe'] })
}, { $id: 'RegisterRequest', title: 'RegisterRequest', additionalProperties: false })

export const LoginBody = Type.Object({
  // NUL can't be stored or looked up in PostgreSQL text: refused here, not left to become a database error.
  email: Type.String({ minLength: 1, maxLength: EMAIL_MAX, pattern: NO_NUL, examples: ['user@example.com'] }),
  password: Type.String({ minLength: 1, maxLength: LOGIN_PASSWORD_MAX, examples: ['SecureP@ssw0rd'] })
}, { $id: 'LoginRequest', title: 'LoginRequest', additionalProperties: false })

export const LoginResponse = Type.Object({
  token: Type.String({ maxLength: 4096, pattern: '^[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$', description: 'A JWT (HS256) to send as `Authorization: Bearer <token>`' }),
  user: Type.Object({
    id: Id,
    email: Type.String({ format: 'email', maxLength: EMAIL_MAX }),
    username: Type.String({ minLength: 1, maxLength: USERNAME_MAX })
  })
}, { $id: 'LoginResponse', title: 'LoginResponse' })

export const UserList = Type.Array(Type.Ref(User), { maxItems: PAGE_MAX, $id: 'UserList', title: 'UserList' })

export const UpdateMeBody = Type.Object({
  current_password: Type.String({ minLength: 1, maxLength: LOGIN_PASSWORD_MAX, description: 'Your password now: every change needs it', examples: ['SecureP@ssw0rd'] }),
  username: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_RAW_TEXT, pattern: NO_NUL, description: USERNAME_RULE, examples: ['johndoe'] })),
  email: Type.Optional(Type.String({ format: 'email', maxLength: EMAIL_MAX, description: 'A new email: revokes every token issued before', examples: ['new@example.com'] })),
  password: Type.Optional(Type.String({ minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX, pattern: NO_NUL, description: 'A new password (same policy as register): revokes every token issued before', examples: ['N3w-SecureP@ssw0rd'] }))
}, { $id: 'UpdateMeRequest', title: 'UpdateMeRequest', additionalProperties: false })

export const AdminUpdateBody = Type.Object({
  disabled: Type.Boolean({ description: 'true: the account cannot log in and every token of it stops working; false: it may log in again' })
}, { $id: 'AdminUpdateUserRequest', title: 'AdminUpdateUserRequest', additionalProperties: false })

export type RegisterInput = Static<typeof RegisterBody>
export type LoginInput = Static<typeof LoginBody>
export type UpdateMeInput = Static<typeof UpdateMeBody>
export type UserView = Static<typeof User>

/** `GET /users`: a page, optionally filtered by a piece of the username. */
export const UsersQuery = Type.Composite([Type.Object({
  q: Type.Optional(Type.String({ minLength: 1, maxLength: USERNAME_MAX, pattern: NO_NUL, description: 'A case-insensitive piece of the username (`%`, `_` and `\\` are taken literally)' }))
}), Pagination])
