import { type Kysely, sql } from 'kysely'
import { hasVisibleCharacter, RESERVED_USERNAMES, usernameKey, withoutHiddenCharacters } from '../../src/chat/text.js'
import { USERNAME_KEY_MAX, USERNAME_MAX } from '../../src/limits.js'

/**
 * Usernames become unique by `username_key` (src/chat/text.ts `usernameKey`: NFKC, case-folded,
 * hidden code points removed), and existing ones are brought under the username rule, going
 * through the users by id (the older account keeps its name):
 * - control, bidi-override and invisible code points are removed from the name; a name left with
 *   no visible character becomes `user-<id>`;
 * - a name whose key is reserved (`admin`, ...) or already held by an older account gets the
 *   suffix `-<id>` (`John`, `john` → `John`, `john-7`), shortened to fit 100 characters, and
 *   `-<id>-2`, `-<id>-3`, ... in the unlikely case that is taken too.
 * The key is computed here in TypeScript, as the server computes it, not with SQL's
 * `lower(normalize(username, NFKC))`: `lower()` follows the database's locale (under `C`, ASCII
 * only) and cannot drop default-ignorable code points. Down drops the key; renamed users keep
 * their new names.
 */
export async function up (db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('username_key', sql`varchar(${sql.lit(USERNAME_KEY_MAX)})`).execute()
  const taken = new Set<string>()
  let after = 0
  for (;;) {
    const rows = await db.selectFrom('users').select(['id', 'username']).where('id', '>', after).orderBy('id').limit(1000).execute() as Array<{ id: number, username: string }>
    if (rows.length === 0) break
    const changes = rows.map(({ id, username }) => ({ id, ...underTheRule(id, username, taken) }))
    await sql`update users set username = v.username, username_key = v.key
      from (select unnest(${changes.map(c => c.id)}::int[]) as id, unnest(${changes.map(c => c.username)}::text[]) as username,
        unnest(${changes.map(c => c.key)}::text[]) as key) as v
      where users.id = v.id`.execute(db)
    after = rows[rows.length - 1]!.id
  }
  await db.schema.alterTable('users').alterColumn('username_key', col => col.setNotNull()).execute()
  await db.schema.createIndex('users_username_key_key').on('users').column('username_key').unique().execute()
}

/** The name user `id` gets and its key, given the keys of the older accounts (added to `taken`). */
function underTheRule (id: number, stored: string, taken: Set<string>): { username: string, key: string } {
  let base = withoutHiddenCharacters(stored).trim()
  if (!hasVisibleCharacter(base) || [...usernameKey(base)].length > USERNAME_KEY_MAX) base = `user-${id}`
  let username = base
  for (let n = 1; RESERVED_USERNAMES.has(usernameKey(username)) || taken.has(usernameKey(username)); n++) {
    const suffix = n === 1 ? `-${id}` : `-${id}-${n}`
    username = [...base].slice(0, USERNAME_MAX - suffix.length).join('').trimEnd() + suffix
  }
  const key = usernameKey(username)
  taken.add(key)
  return { username, key }
}

export async function down (db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('users_username_key_key').execute()
  await db.schema.alterTable('users').dropColumn('username_key').execute()
}
