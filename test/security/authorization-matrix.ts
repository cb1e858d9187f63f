/**
 * The authorization matrix (CONTRACT.md Part 2, "Rooms"): for every route and WebSocket frame that
 * touches a room or a message, the answer for each state a user can be in. The test
 * (authorization-matrix.test.ts) puts a user in each state, in a room of its own per cell, makes
 * the call, and compares what came back with this table; SECURITY.md publishes the same table,
 * rendered from it by `npm run security:matrix` (a test fails when the two differ).
 *
 * An outcome is `<status>` or `<status> <code>` for REST; for WebSocket, the frame the socket got
 * in answer (`error <code>` for a refusal), or `upgrade <status>` when the socket could not open.
 */

/** The states, in the order of the table's rows. Rooms are public unless the state says private. */
export const STATES = [
  'never joined',
  'never joined (private)',
  'invited (private)',
  'member',
  'muted',
  'moderator',
  'owner',
  'left',
  'kicked',
  'banned',
  'kicked (private)',
  'banned (private)',
  'site admin, not a member',
  'site admin, not a member (private)',
  'disabled account',
  'room deleted'
] as const
export type State = typeof STATES[number]

/** The columns: what is called. `target` is another member (a plain one) with a message; `invitee` has a pending invite. */
export const CALLS = [
  'GET /rooms/{id}',
  'PATCH /rooms/{id}',
  'DELETE /rooms/{id}',
  'POST /rooms/{id}/join',
  'POST /rooms/{id}/leave',
  'GET /rooms/{id}/messages',
  'GET /rooms/{id}/events',
  'POST /rooms/{id}/read',
  'GET /rooms/{id}/members',
  'PATCH /rooms/{id}/members/{target}',
  'DELETE /rooms/{id}/members/{target}',
  'PUT /rooms/{id}/bans/{target}',
  'DELETE /rooms/{id}/bans/{target}',
  'GET /rooms/{id}/bans',
  'PUT /rooms/{id}/mutes/{target}',
  'DELETE /rooms/{id}/mutes/{target}',
  'POST /rooms/{id}/invites',
  'DELETE /rooms/{id}/invites/{invitee}',
  'POST /messages',
  'PATCH /messages/{own}',
  'DELETE /messages/{target\'s}',
  'PUT /messages/{id}/reactions/{emoji}',
  'DELETE /messages/{id}/reactions/{emoji}',
  'GET /messages/{id}/replies',
  'GET /search/messages?room_id={id}',
  'GET /attachments/{target\'s}',
  'ws message:send',
  'ws room:join',
  'ws sync',
  'ws presence:get',
  'ws typing',
  'ws ?since='
] as const
export type Call = typeof CALLS[number]

/** A row of the table: one outcome per state, in STATES order, separated by ` | `. */
function row (outcomes: string): readonly string[] {
  const cells = outcomes.split(' | ')
  if (cells.length !== STATES.length) throw new Error(`a row needs ${STATES.length} outcomes, got ${cells.length}: ${outcomes}`)
  return cells
}

/**
 * Expected outcomes, one row per call. Read against CONTRACT.md Part 2 "Rooms" cell by cell:
 * private rooms answer outsiders (banned, kicked and site admins included) as a missing id; a
 * public room's non-members get 403 NOT_A_MEMBER for reads and sends, and may join unless banned;
 * moderation is the owner's and moderators' (NOT_ALLOWED for members); a muted member reads, leaves,
 * invites and removes reactions but cannot send, type, edit or react (MUTED); site admins delete
 * any room or message and are otherwise outsiders; a disabled account's token is refused (401).
 */
export const EXPECTED: Record<Call, readonly string[]> = {
  'GET /rooms/{id}': row('200 | 404 ROOM_NOT_FOUND | 200 | 200 | 200 | 200 | 200 | 200 | 200 | 200 | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 200 | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'PATCH /rooms/{id}': row('403 NOT_ALLOWED | 404 ROOM_NOT_FOUND | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 200 | 200 | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_ALLOWED | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'DELETE /rooms/{id}': row('403 NOT_ALLOWED | 404 ROOM_NOT_FOUND | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 204 | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 204 | 204 | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'POST /rooms/{id}/join': row('200 | 404 ROOM_NOT_FOUND | 200 | 200 | 200 | 200 | 200 | 200 | 200 | 403 BANNED | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 200 | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'POST /rooms/{id}/leave': row('403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 204 | 204 | 204 | 204 | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'GET /rooms/{id}/messages': row('403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 200 | 200 | 200 | 200 | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'GET /rooms/{id}/events': row('403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 200 | 200 | 200 | 200 | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'POST /rooms/{id}/read': row('403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 200 | 200 | 200 | 200 | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'GET /rooms/{id}/members': row('403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 200 | 200 | 200 | 200 | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'PATCH /rooms/{id}/members/{target}': row('403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 200 | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'DELETE /rooms/{id}/members/{target}': row('403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 204 | 204 | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'PUT /rooms/{id}/bans/{target}': row('403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 204 | 204 | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'DELETE /rooms/{id}/bans/{target}': row('403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 204 | 204 | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'GET /rooms/{id}/bans': row('403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 200 | 200 | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'PUT /rooms/{id}/mutes/{target}': row('403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 204 | 204 | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'DELETE /rooms/{id}/mutes/{target}': row('403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 204 | 204 | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'POST /rooms/{id}/invites': row('403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 201 | 201 | 201 | 201 | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'DELETE /rooms/{id}/invites/{invitee}': row('403 NOT_ALLOWED | 404 ROOM_NOT_FOUND | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 204 | 204 | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_ALLOWED | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'POST /messages': row('403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 201 | 403 MUTED | 201 | 201 | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  'PATCH /messages/{own}': row('404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 200 | 403 MUTED | 200 | 200 | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 401 UNAUTHORIZED | 404 MESSAGE_NOT_FOUND'),
  "DELETE /messages/{target's}": row('404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 403 NOT_ALLOWED | 403 NOT_ALLOWED | 204 | 204 | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 204 | 204 | 401 UNAUTHORIZED | 404 MESSAGE_NOT_FOUND'),
  'PUT /messages/{id}/reactions/{emoji}': row('404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 200 | 403 MUTED | 200 | 200 | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 401 UNAUTHORIZED | 404 MESSAGE_NOT_FOUND'),
  'DELETE /messages/{id}/reactions/{emoji}': row('404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 204 | 204 | 204 | 204 | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 401 UNAUTHORIZED | 404 MESSAGE_NOT_FOUND'),
  'GET /messages/{id}/replies': row('404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 200 | 200 | 200 | 200 | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 404 MESSAGE_NOT_FOUND | 401 UNAUTHORIZED | 404 MESSAGE_NOT_FOUND'),
  'GET /search/messages?room_id={id}': row('403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 200 | 200 | 200 | 200 | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 404 ROOM_NOT_FOUND | 403 NOT_A_MEMBER | 404 ROOM_NOT_FOUND | 401 UNAUTHORIZED | 404 ROOM_NOT_FOUND'),
  // The uploader aside, an attachment is read by the members of the room it was posted in (muted ones too); anyone else is answered as for a missing id.
  "GET /attachments/{target's}": row('404 ATTACHMENT_NOT_FOUND | 404 ATTACHMENT_NOT_FOUND | 404 ATTACHMENT_NOT_FOUND | 200 | 200 | 200 | 200 | 404 ATTACHMENT_NOT_FOUND | 404 ATTACHMENT_NOT_FOUND | 404 ATTACHMENT_NOT_FOUND | 404 ATTACHMENT_NOT_FOUND | 404 ATTACHMENT_NOT_FOUND | 404 ATTACHMENT_NOT_FOUND | 404 ATTACHMENT_NOT_FOUND | 401 UNAUTHORIZED | 404 ATTACHMENT_NOT_FOUND'),
  'ws message:send': row('error NOT_A_MEMBER | error ROOM_NOT_FOUND | error NOT_A_MEMBER | message:new | error MUTED | message:new | message:new | error NOT_A_MEMBER | error NOT_A_MEMBER | error NOT_A_MEMBER | error ROOM_NOT_FOUND | error ROOM_NOT_FOUND | error NOT_A_MEMBER | error ROOM_NOT_FOUND | upgrade 401 | error ROOM_NOT_FOUND'),
  'ws room:join': row('room:joined | error ROOM_NOT_FOUND | room:joined | room:joined | room:joined | room:joined | room:joined | room:joined | room:joined | error BANNED | error ROOM_NOT_FOUND | error ROOM_NOT_FOUND | room:joined | error ROOM_NOT_FOUND | upgrade 401 | error ROOM_NOT_FOUND'),
  'ws sync': row('error NOT_A_MEMBER | error ROOM_NOT_FOUND | error NOT_A_MEMBER | sync:done | sync:done | sync:done | sync:done | error NOT_A_MEMBER | error NOT_A_MEMBER | error NOT_A_MEMBER | error ROOM_NOT_FOUND | error ROOM_NOT_FOUND | error NOT_A_MEMBER | error ROOM_NOT_FOUND | upgrade 401 | error ROOM_NOT_FOUND'),
  'ws presence:get': row('error NOT_A_MEMBER | error ROOM_NOT_FOUND | error NOT_A_MEMBER | presence:list | presence:list | presence:list | presence:list | error NOT_A_MEMBER | error NOT_A_MEMBER | error NOT_A_MEMBER | error ROOM_NOT_FOUND | error ROOM_NOT_FOUND | error NOT_A_MEMBER | error ROOM_NOT_FOUND | upgrade 401 | error ROOM_NOT_FOUND'),
  'ws typing': row('error NOT_A_MEMBER | error ROOM_NOT_FOUND | error NOT_A_MEMBER | accepted | error MUTED | accepted | accepted | error NOT_A_MEMBER | error NOT_A_MEMBER | error NOT_A_MEMBER | error ROOM_NOT_FOUND | error ROOM_NOT_FOUND | error NOT_A_MEMBER | error ROOM_NOT_FOUND | upgrade 401 | error ROOM_NOT_FOUND'),
  'ws ?since=': row('error NOT_A_MEMBER | error ROOM_NOT_FOUND | error NOT_A_MEMBER | sync:done | sync:done | sync:done | sync:done | error NOT_A_MEMBER | error NOT_A_MEMBER | error NOT_A_MEMBER | error ROOM_NOT_FOUND | error ROOM_NOT_FOUND | error NOT_A_MEMBER | error ROOM_NOT_FOUND | upgrade 401 | error ROOM_NOT_FOUND')
}

/** The table as Markdown: states down, calls across would be too wide, so calls down and states across. */
export function renderMatrix (table: Record<Call, readonly string[]> = EXPECTED): string {
  const header = `| Call | ${STATES.join(' | ')} |`
  const rule = `| --- | ${STATES.map(() => '---').join(' | ')} |`
  const rows = CALLS.map(call => `| \`${call}\` | ${(table[call] ?? []).join(' | ')} |`)
  return [header, rule, ...rows].join('\n')
}
