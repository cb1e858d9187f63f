import { appendEvent } from '../../db/feed.js'
import { deleteReaction, emojiCount, emojiState, insertReaction } from '../../db/reactions.js'
import type { Db } from '../../db/database.js'
import { badRequest, conflict } from '../errors.js'
import { REACTIONS_MAX } from '../schemas/messages.js'
import type { ServerPayload } from '../schemas/realtime.js'
import { assertNotMuted } from './access.js'
import type { ChatBus } from './events.js'
import { changeMessage } from './messages.js'

/**
 * One RGI emoji (ZWJ sequences, skin tones, flags, keycaps). Compiled at the first reaction: the
 * property's thousands of sequences took 25 ms of every start (bench/README, P8).
 */
let oneEmoji: RegExp | undefined
/** A name, as `EMOJI_NAME` in the schema says. */
const NAME = /^[a-z0-9_+-]{1,32}$/

/** The emoji of a reaction route: one Unicode emoji or a name (`party_parrot`); anything else is 400. */
export function checkEmoji (emoji: string): string {
  // eslint-disable-next-line prefer-regex-literals -- TypeScript refuses the `v` flag below an ES2024 target (ours is ES2022); Node 20 has it
  oneEmoji ??= new RegExp('^\\p{RGI_Emoji}$', 'v')
  if (oneEmoji.test(emoji) || NAME.test(emoji)) return emoji
  throw badRequest('emoji must be one Unicode emoji or a name of 1 to 32 characters a-z, 0-9, _, + or -', 'INVALID_EMOJI')
}

export interface ReactionResult { message_id: number, emoji: string, count: number, me: boolean }

interface Deps { db: Db, bus: ChatBus }

/**
 * A reaction change, under the message's room lock (so the distinct-emoji limit and the counts hold
 * under concurrent reactions): 403 MUTED for adding while muted (removing stays allowed), 409
 * MESSAGE_DELETED for adding to a tombstone. `change` says whether
 * it changed anything; only then does the feed get a frame.
 */
async function changeReaction (
  deps: Deps, userId: number, messageId: number, emoji: string, type: 'reaction:added' | 'reaction:removed',
  change: (trx: Db) => Promise<boolean>
): Promise<ReactionResult> {
  return await changeMessage(deps, userId, messageId, false, async (trx, access) => {
    const { message } = access
    const deleted = message.deleted_at !== null
    if (type === 'reaction:added') assertNotMuted(access)
    if (deleted && type === 'reaction:added') throw conflict('The message was deleted', 'MESSAGE_DELETED')
    const changed = !deleted && await change(trx)
    const count = await emojiCount(trx, messageId, emoji)
    const result = { message_id: messageId, emoji, count, me: type === 'reaction:added' }
    if (!changed) return { result }
    const data = { message_id: messageId, user_id: userId, emoji, count }
    const seq = await appendEvent(trx, message.room_id, type, data, messageId)
    const payload: ServerPayload<'reaction:added'> = { seq, room_id: message.room_id, ...data }
    return { result, event: { type, room_id: message.room_id, payload } }
  })
}

/** Adds the user's reaction (members). Already there: answered, nothing published. Over 50 distinct emojis on the message: 409. */
export async function addReaction (deps: Deps, userId: number, messageId: number, rawEmoji: string): Promise<ReactionResult> {
  const emoji = checkEmoji(rawEmoji)
  return await changeReaction(deps, userId, messageId, emoji, 'reaction:added', async trx => {
    const { present, distinct } = await emojiState(trx, messageId, emoji)
    if (!present && distinct >= REACTIONS_MAX) throw conflict(`A message has at most ${REACTIONS_MAX} different reactions`, 'TOO_MANY_REACTIONS')
    return await insertReaction(trx, messageId, userId, emoji)
  })
}

/** Removes the user's reaction (members). Not there: nothing changes, nothing is published. */
export async function removeReaction (deps: Deps, userId: number, messageId: number, rawEmoji: string): Promise<void> {
  const emoji = checkEmoji(rawEmoji)
  await changeReaction(deps, userId, messageId, emoji, 'reaction:removed', async trx => await deleteReaction(trx, messageId, userId, emoji))
}
