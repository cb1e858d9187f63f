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
  'ws message:send',
  'ws room:join',
  'ws sync',
  'ws presence:get',
  'ws typing',
  'ws ?since='
] as const
export type Call = typeof CALLS[number]

/** Expected outcomes: one row per call, one entry per state in STATES order. */
export const EXPECTED: Record<Call, readonly string[]> = {} as Record<Call, readonly string[]>

/** The table as Markdown: states down, calls across would be too wide, so calls down and states across. */
export function renderMatrix (table: Record<Call, readonly string[]> = EXPECTED): string {
  const header = `| Call | ${STATES.join(' | ')} |`
  const rule = `| --- | ${STATES.map(() => '---').join(' | ')} |`
  const rows = CALLS.map(call => `| \`${call}\` | ${(table[call] ?? []).join(' | ')} |`)
  return [header, rule, ...rows].join('\n')
}
