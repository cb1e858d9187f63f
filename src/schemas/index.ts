import { ErrorResponse } from './common.js'
import { Health, Liveness } from './health.js'
import { Attachment, EditMessageBody, Message, MessageList, Reaction, ReactionResult, SendMessageBody } from './messages.js'
import { FeedFrameList, MemberJoinedPayload, MemberLeftPayload, MemberUpdatedPayload, MessageDeletedPayload, MessageUpdatedPayload, ReactionEventPayload, RoomUpdatedPayload } from './realtime.js'
import { CreateRoomBody, JoinResponse, MyRoom, MyRoomList, ReadBody, ReadState, Room, RoomList, RoomRole, RoomSummary, UpdateRoomBody } from './rooms.js'
import { InviteBody, MyInvite, MyInviteList, OpenDmBody, RoomInvite } from './rooms.js'
import { MuteBody, RoomBan, RoomBanList, RoomMember, RoomMemberList, UpdateMemberBody } from './rooms.js'
import { AdminStats, BusyRoom, DailyStats, UserDailyMessages, UserStats } from './stats.js'
import { SearchResult, SearchResults } from './search.js'
import { AdminUpdateBody, LoginBody, LoginResponse, RegisterBody, UpdateMeBody, User, UserList } from './users.js'

/** Every named schema, added to Fastify once; they become the OpenAPI `components/schemas`. */
export const sharedSchemas = [
  ErrorResponse, Health, Liveness,
  User, UserList, RegisterBody, LoginBody, LoginResponse, UpdateMeBody, AdminUpdateBody,
  Room, RoomSummary, RoomList, CreateRoomBody, UpdateRoomBody, JoinResponse, RoomRole, ReadBody, ReadState, MyRoom, MyRoomList,
  // Moderation: members, roles, bans, mutes.
  RoomMember, RoomMemberList, UpdateMemberBody, RoomBan, RoomBanList, MuteBody,
  Reaction, Attachment, Message, MessageList, SendMessageBody, EditMessageBody, ReactionResult,
  // The room feed's frames, which GET /rooms/{id}/events returns too.
  MessageUpdatedPayload, MessageDeletedPayload, ReactionEventPayload, MemberJoinedPayload, MemberLeftPayload, MemberUpdatedPayload, RoomUpdatedPayload, FeedFrameList,
  // Invites and direct messages.
  RoomInvite, InviteBody, MyInvite, MyInviteList, OpenDmBody,
  // Analytics.
  DailyStats, BusyRoom, AdminStats, UserDailyMessages, UserStats,
  // Search.
  SearchResult, SearchResults
]
