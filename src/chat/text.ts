import { badRequest } from '../errors.js'

/** Trims a text field and checks its length after trimming; throws 400 naming the field. */
export function trimmed (value: string, field: string, max: number): string {
  const text = value.trim()
  if (text.length === 0) throw badRequest(`${field} must not be empty`)
  if ([...text].length > max) throw badRequest(`${field} must be at most ${max} characters`)
  return text
}
