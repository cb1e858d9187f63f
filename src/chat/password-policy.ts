import { dictionary } from '@zxcvbn-ts/language-common'
import { badRequest } from '../errors.js'
import { PASSWORD_MAX, PASSWORD_MIN } from '../limits.js'

const common = new Set<string>((dictionary['passwords-common'] as string[]).filter(p => p.length >= PASSWORD_MIN))

/**
 * Password rules (OWASP ASVS 5.0 V6): 8 to 128 characters, no composition rules, not a commonly
 * used password (the zxcvbn-ts list, compared case-insensitively), never truncated or case-folded.
 * Throws a 400 naming the problem.
 */
export function checkPasswordPolicy (password: string): void {
  const length = [...password].length
  if (length < PASSWORD_MIN) throw badRequest(`password must be at least ${PASSWORD_MIN} characters`)
  if (length > PASSWORD_MAX) throw badRequest(`password must be at most ${PASSWORD_MAX} characters`)
  if (common.has(password.toLowerCase())) throw badRequest('password is too common; choose one that is not on lists of leaked passwords', 'PASSWORD_TOO_COMMON')
}
