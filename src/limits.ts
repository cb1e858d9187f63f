/**
 * Every bound the API promises, written once: the schemas (and so openapi.yaml), the domain
 * checks and the database columns all use these.
 */

/** The largest id, seq or count: PostgreSQL's `integer`. */
export const INT32_MAX = 2147483647

/** Passwords: at least and at most this many characters (OWASP ASVS 5.0 V6). */
export const PASSWORD_MIN = 8
export const PASSWORD_MAX = 128
/** The longest password login accepts: longer than any we store, so no sentence tells what the policy is. */
export const LOGIN_PASSWORD_MAX = 1024

/** Emails: the seed's `varchar(255)`. */
export const EMAIL_MAX = 255
/** Usernames: 1 to this many characters after trimming. */
export const USERNAME_MAX = 100
/**
 * A username's key (its NFKC, case-folded form, which is unique) may be at most this many
 * characters: NFKC writes some characters out at length (U+FDFA is 18), and the unique index takes
 * at most about 2,700 bytes a row.
 */
export const USERNAME_KEY_MAX = 4 * USERNAME_MAX
/** Room names: 1 to this many characters after trimming. */
export const ROOM_NAME_MAX = 255
/** Room descriptions. */
export const DESCRIPTION_MAX = 2000
/** Message content: 1 to this many characters after trimming. */
export const CONTENT_MAX = 4000
/** A sender's own id for a send (`client_msg_id`). */
export const CLIENT_MSG_ID_MAX = 64

/** The most items a list response holds: the page size's upper bound. */
export const PAGE_MAX = 100

/** 64 KiB: the largest JSON body or WebSocket frame; room for a 4,000-character message in any script. */
export const BODY_MAX_BYTES = 64 * 1024

/** The longest timed mute, in minutes (a year); a mute without `minutes` lasts until it is lifted. */
export const MUTE_MINUTES_MAX = 525_600

/** Attachments on one message, at most. */
export const ATTACHMENTS_MAX = 10
