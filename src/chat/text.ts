import { badRequest } from '../errors.js'
import { CONTENT_MAX, USERNAME_KEY_MAX, USERNAME_MAX } from '../limits.js'

/** Trims a text field and checks its length after trimming; throws 400 naming the field. */
export function trimmed (value: string, field: string, max: number): string {
  const text = value.trim()
  if (text.length === 0) throw badRequest(`${field} must not be empty`)
  if ([...text].length > max) throw badRequest(`${field} must be at most ${max} characters`)
  return text
}

/**
 * What a username may not contain: controls (C0, C1), format characters (the bidi overrides,
 * embeddings, isolates and marks U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C; zero-width
 * characters), every other default-ignorable code point (variation selectors, Hangul fillers, tags,
 * ...), line and paragraph separators, and lone surrogates.
 */
const NOT_IN_USERNAMES = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u
const NOT_IN_USERNAMES_ALL = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu
/** What message content may not contain: C0 and C1 controls other than newline and tab. */
const NOT_IN_CONTENT = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/u // eslint-disable-line no-control-regex
/**
 * One character that shows: not whitespace or a separator, not default-ignorable, not a control or
 * format character, not a combining mark on its own, not the blank braille pattern.
 */
const VISIBLE = /[^\p{White_Space}\p{Z}\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}\p{Cs}\p{M}\u2800]/u

/** Reserved usernames, compared by key: nobody may be called `admin`, `ＡＤＭＩＮ` or `Admin`. */
export const RESERVED_USERNAMES: ReadonlySet<string> = new Set(['admin', 'administrator', 'root', 'system', 'support', 'moderator', 'owner'])

const codePoint = (c: string): string => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`

/** Whether the text has at least one character that shows. */
export function hasVisibleCharacter (text: string): boolean {
  return VISIBLE.test(text)
}

/** The text without the code points a username may not contain. */
export function withoutHiddenCharacters (text: string): string {
  return text.replace(NOT_IN_USERNAMES_ALL, '')
}

/**
 * The key that makes usernames unique: two names with one key look alike. Hidden code points
 * removed, NFKC (`ｊｏｈｎ` is `john`, `ﬁ` is `fi`), full case folding (upper- then lower-case: `ß`
 * is `ss`), NFKC again, runs of whitespace as one space, trimmed.
 */
export function usernameKey (username: string): string {
  const folded = withoutHiddenCharacters(username).normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC')
  return withoutHiddenCharacters(folded).replace(/\s+/gu, ' ').trim()
}

/**
 * A username as the contract allows it: 1 to 100 characters after trimming, at least one visible,
 * none hidden (controls, bidi overrides, zero-width and other default-ignorable code points), not a
 * reserved name. Returns the name to store (trimmed, otherwise as given) and its key (see
 * `usernameKey`; unique in the database). Throws 400 naming the field.
 */
export function checkUsername (value: string): { username: string, key: string } {
  const username = trimmed(value, 'username', USERNAME_MAX)
  const hidden = NOT_IN_USERNAMES.exec(username)
  if (hidden !== null) {
    throw badRequest(`username must not contain control, bidi-override or invisible characters (it contains ${codePoint(hidden[0])})`)
  }
  if (!hasVisibleCharacter(username)) throw badRequest('username must contain at least one visible character')
  const key = usernameKey(username)
  if ([...key].length > USERNAME_KEY_MAX) throw badRequest(`username must be at most ${USERNAME_KEY_MAX} characters once normalized (NFKC)`)
  if (RESERVED_USERNAMES.has(key)) throw badRequest('username is reserved; choose another', 'USERNAME_RESERVED')
  return { username, key }
}

/**
 * Message content as the contract allows it: 1 to 4,000 characters after trimming, no C0 or C1
 * control character other than newline and tab, and not only invisible characters (whitespace,
 * zero-width and other default-ignorable code points). Returns the content to store (trimmed).
 * Throws 400 VALIDATION_ERROR naming the field.
 */
export function checkMessageText (content: string): string {
  const text = trimmed(content, 'content', CONTENT_MAX)
  const control = NOT_IN_CONTENT.exec(text)
  if (control !== null) throw badRequest(`content must not contain control characters other than newline and tab (it contains ${codePoint(control[0])})`)
  if (!hasVisibleCharacter(text)) throw badRequest('content must contain at least one visible character')
  return text
}
