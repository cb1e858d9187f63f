import { randomBytes } from 'node:crypto'

/** A storage key: 32 random hex characters. */
export function randomStorageKey (): string {
  return randomBytes(16).toString('hex')
}

/** Whether a key is one `randomStorageKey` could have made (what a driver accepts as a file name). */
export function isStorageKey (key: string): boolean {
  return /^[0-9a-f]{32}(?:\.thumb)?$/.test(key)
}
