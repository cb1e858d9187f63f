import { badRequest } from '../errors.js'
import { PASSWORD_MAX, PASSWORD_MIN } from '../limits.js'

let common: Promise<ReadonlySet<string>> | undefined

/**
 * The common passwords long enough to pass the length rule. Their list is unpacked from
 * @zxcvbn-ts/language-common at the first password checked, not at every start (bench/README P8);
 * `default`: the package is CommonJS (see plugins/metrics.ts).
 */
async function commonPasswords (): Promise<ReadonlySet<string>> {
  common ??= import('@zxcvbn-ts/language-common').then(({ default: { dictionary } }) => new Set((dictionary['passwords-common'] as string[]).filter(p => p.length >= PASSWORD_MIN)))
  return await common
}

/**
 * Password rules (OWASP ASVS 5.0 V6): 8 to 128 characters, no composition rules, not a commonly
 * used password (the zxcvbn-ts list, compared case-insensitively), never truncated or case-folded.
 * Throws a 400 naming the problem.
 */
export async function checkPasswordPolicy (password: string): Promise<void> {
  const length = [...password].length
  if (length < PASSWORD_MIN) throw badRequest(`password must be at least ${PASSWORD_MIN} characters`)
  if (length > PASSWORD_MAX) throw badRequest(`password must be at most ${PASSWORD_MAX} characters`)
  if ((await commonPasswords()).has(password.toLowerCase())) throw badRequest('password is too common; choose one that is not on lists of leaked passwords', 'PASSWORD_TOO_COMMON')
}
