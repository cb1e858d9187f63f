import { type Kysely, sql } from 'kysely'

/**
 * Search (CONTRACT.md Part 2, "Search").
 * - `messages.search_vector`: the content's words, stemmed with the `english` text search
 *   configuration, as a stored generated column: every insert and edit computes it in its own
 *   statement, so a message is found by its new text as soon as the edit has committed. A
 *   generated column needs an immutable expression, hence the fixed configuration (a regconfig
 *   constant, not SEARCH_LANGUAGE): using another language for the stored words means a migration
 *   that redefines this column (README "Search").
 * - GIN indexes: on `search_vector` (full-text matches), and trigram (`gin_trgm_ops`) on
 *   `messages.content`, `users.username` and `rooms.name`, which serve `ILIKE '%piece%'` for
 *   pieces of at least 3 characters (search, `GET /users?q=`, `GET /rooms?q=`).
 * - `unaccent` is created for the search's use (not in the generated expression: unaccent() is
 *   only stable).
 */
export async function up (db: Kysely<any>): Promise<void> {
  await sql`create extension if not exists pg_trgm`.execute(db)
  await sql`create extension if not exists unaccent`.execute(db)
  await sql`alter table messages add column search_vector tsvector
    generated always as (to_tsvector('english'::regconfig, content)) stored`.execute(db)
  await sql`create index messages_search_vector_idx on messages using gin (search_vector)`.execute(db)
  await sql`create index messages_content_trgm_idx on messages using gin (content gin_trgm_ops)`.execute(db)
  await sql`create index users_username_trgm_idx on users using gin (username gin_trgm_ops)`.execute(db)
  await sql`create index rooms_name_trgm_idx on rooms using gin (name gin_trgm_ops)`.execute(db)
}

export async function down (db: Kysely<any>): Promise<void> {
  await sql`drop index rooms_name_trgm_idx`.execute(db)
  await sql`drop index users_username_trgm_idx`.execute(db)
  await sql`drop index messages_content_trgm_idx`.execute(db)
  await sql`drop index messages_search_vector_idx`.execute(db)
  await sql`alter table messages drop column search_vector`.execute(db)
  await sql`drop extension if exists unaccent`.execute(db)
  await sql`drop extension if exists pg_trgm`.execute(db)
}
