import type { ColumnType, Generated, Insertable, Kysely, Selectable } from 'kysely'

/** The tables, as Kysely sees them. Timestamps are `timestamptz` and come back as Date. */
export interface Database {
  users: UsersTable
  rooms: RoomsTable
  room_members: RoomMembersTable
  messages: MessagesTable
  room_events: RoomEventsTable
  reactions: ReactionsTable
  room_bans: RoomBansTable
  room_invites: RoomInvitesTable
  parked_mutes: ParkedMutesTable
  login_failures: LoginFailuresTable
  known_addresses: KnownAddressesTable
  attachments: AttachmentsTable
}

type CreatedAt = ColumnType<Date, Date | string | undefined, never>

export interface UsersTable {
  id: Generated<number>
  email: string
  username: string
  /** The username's key (src/chat/text.ts `usernameKey`: NFKC, case-folded, hidden code points removed); unique. */
  username_key: string
  password_hash: string
  role: ColumnType<string, string | undefined, string>
  created_at: CreatedAt
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>
  /** Tokens carry the version they were issued under (`ver`); bumping it revokes every older token. */
  token_version: ColumnType<number, number | undefined, number>
  /** When an admin disabled the account (null: active). */
  disabled_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
}

export interface RoomsTable {
  id: Generated<number>
  name: string
  description: string | null
  created_by: number | null
  created_at: CreatedAt
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>
  /** The last message sequence number given out in this room (0: none yet). */
  last_seq: ColumnType<number, number | undefined, number>
  /** When the room's feed last moved (a message, an edit, a reaction, a member joining...). */
  last_activity_at: ColumnType<Date, Date | string | undefined, Date | string>
  /** Invisible to non-members who are not invited. */
  is_private: ColumnType<boolean, boolean | undefined, boolean>
  /** A direct-message room of two users (no roles, invites, moderation, renames or leaving). */
  is_direct: ColumnType<boolean, boolean | undefined, boolean>
  /** A DM's pair, `<smaller user id>:<larger>` (unique: one DM per pair); null for other rooms. */
  direct_key: ColumnType<string | null, string | null | undefined, string | null>
  /** How many members it has (kept up by the statements that add and remove members). */
  member_count: ColumnType<number, number | undefined, number>
}

export interface RoomMembersTable {
  id: Generated<number>
  room_id: number
  user_id: number
  joined_at: CreatedAt
  /** `owner` (the creator; exactly one), `moderator` or `member`. */
  role: ColumnType<string, string | undefined, string>
  /** Muted while this is in the future (an indefinite mute: 9999-12-31T23:59:59Z); null: not muted. */
  muted_until: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  /** The member's read marker: every feed entry up to this seq is read. Only moves forward. */
  last_read_seq: ColumnType<number, number | undefined, number>
}

export interface MessagesTable {
  id: Generated<number>
  room_id: number
  user_id: number | null
  content: string
  created_at: CreatedAt
  /** Position in the room: 1, 2, 3, ... without gaps. */
  seq: number
  /** The sender's own id for this send (idempotent retries); unique per user. */
  client_msg_id: string | null
  edited_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  /** Set when it was deleted: the row stays as a tombstone (content '', no reactions). */
  deleted_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
  /** The thread root this message replies to (a reply to a reply is stored with its root). */
  reply_to: ColumnType<number | null, number | null | undefined, number | null>
  /** The root's replies that are not deleted. */
  reply_count: ColumnType<number, number | undefined, number>
}

/** Every feed entry of a room that is not a new message (those are `messages` rows at their seq). */
export interface RoomEventsTable {
  room_id: number
  seq: number
  /** The frame type: message:updated, message:deleted, reaction:added, member:joined, ... */
  type: string
  /** The message it is about, if any (an edit's current content is read from it when replayed). */
  message_id: number | null
  /** The frame's payload as sent live, without what replay reads from the message. */
  data: ColumnType<Record<string, unknown>, string, string>
  created_at: CreatedAt
}

export interface ReactionsTable {
  /** Orders a message's emojis by first use. */
  id: Generated<string>
  message_id: number
  user_id: number
  emoji: string
  created_at: CreatedAt
}

export interface RoomBansTable {
  room_id: number
  user_id: number
  banned_by: number | null
  created_at: CreatedAt
}

export interface RoomInvitesTable {
  room_id: number
  user_id: number
  invited_by: number | null
  created_at: CreatedAt
}

/** The mute of a member who left while muted: given back if they join again before it ends. */
export interface ParkedMutesTable {
  room_id: number
  user_id: number
  muted_until: ColumnType<Date, Date | string, Date | string>
}

export interface LoginFailuresTable {
  id: Generated<number>
  /** SHA-256 (hex) of the lower-cased email the attempt named, whether or not such a user exists */
  account: string
  /** client address key (src/chat/addresses.ts: IPv4, or IPv6 by /64) */
  address: string
  created_at: CreatedAt
}

export interface KnownAddressesTable {
  user_id: number
  /** the address key (src/chat/addresses.ts) a password check for this user passed from */
  address: string
  /** the last time it did */
  last_login_at: ColumnType<Date, Date | string | undefined, Date | string>
}

/** An upload: its bytes in storage under `storage_key`; attached to at most one message. */
export interface AttachmentsTable {
  id: Generated<number>
  /** The uploader. */
  user_id: number
  /** The message it was posted with (null: not attached yet, or the message is gone). */
  message_id: number | null
  /** That message's room (who may read it: its members). */
  room_id: number | null
  /** Where storage keeps the bytes: random, never from user input. */
  storage_key: string
  /** For display only. */
  filename: string
  /** From the bytes (magic numbers), never from the client. */
  content_type: string
  size: ColumnType<string, string | number, never>
  sha256: string
  width: number | null
  height: number | null
  thumbnail_key: ColumnType<string | null, string | null | undefined, string | null>
  created_at: CreatedAt
  /** Its file is to be deleted (the message or room went, or it expired): never served; the sweep finishes the job. */
  deleted_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>
}

/** The database, or a transaction on it: what every repository function takes. */
export type Db = Kysely<Database>

export type UserRow = Selectable<UsersTable>
export type NewUser = Insertable<UsersTable>
export type RoomRow = Selectable<RoomsTable>
