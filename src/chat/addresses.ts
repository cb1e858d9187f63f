import { createHash } from 'node:crypto'
import { isIPv4, isIPv6 } from 'node:net'

/**
 * The client address as every per-address key sees it (the login and register rate limits, the
 * anonymous key of the global limit, the login lockout's pairs and proven addresses):
 * - IPv4 as it is (`203.0.113.9`);
 * - IPv4-mapped IPv6 (`::ffff:203.0.113.9`, `::ffff:cb00:7109`) as that IPv4 address;
 * - any other IPv6 address as its /64 (`2001:db8:1:2::/64`): one subscriber's network gets
 *   2^64 addresses, so an exact IPv6 address would be a new attacker for every request;
 * - anything else (a forwarded value that is not an address) as a fixed-length digest of it.
 */
export function addressKey (ip: string): string {
  if (isIPv4(ip)) return ip
  const bare = ip.replace(/%.*$/, '') // a zone id (fe80::1%eth0) names an interface, not a client
  if (isIPv6(bare)) {
    const groups = hextets(bare)
    if (groups.slice(0, 5).every(g => g === 0) && groups[5] === 0xffff) {
      return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.')
    }
    return `${groups.slice(0, 4).map(g => g.toString(16)).join(':')}::/64`
  }
  return `?${createHash('sha256').update(ip).digest('hex').slice(0, 32)}`
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a dotted IPv4 tail converted). */
function hextets (ip: string): number[] {
  let text = ip.toLowerCase()
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (dotted !== null) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number]
    text = text.slice(0, dotted.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0')
  return [...left, ...zeros, ...right].map(g => parseInt(g, 16))
}
