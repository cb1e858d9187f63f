import { ErrorResponse } from './common.js'
import { Health, Liveness } from './health.js'
import { Message, MessageList, SendMessageBody } from './messages.js'
import { CreateRoomBody, JoinResponse, Room, RoomList, RoomSummary } from './rooms.js'
import { AdminUpdateBody, LoginBody, LoginResponse, RegisterBody, UpdateMeBody, User, UserList } from './users.js'

/** Every named schema, added to Fastify once; they become the OpenAPI `components/schemas`. */
export const sharedSchemas = [
  ErrorResponse, Health, Liveness,
  User, UserList, RegisterBody, LoginBody, LoginResponse, UpdateMeBody, AdminUpdateBody,
  Room, RoomSummary, RoomList, CreateRoomBody, JoinResponse,
  Message, MessageList, SendMessageBody
]
