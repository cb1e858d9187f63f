import t from 'tap'
import { addressKey } from '../../src/chat/addresses.js'

t.test('IPv4 is its own key', async t => {
  for (const ip of ['203.0.113.9', '127.0.0.1', '0.0.0.0', '255.255.255.255']) t.equal(addressKey(ip), ip)
})

t.test('IPv4-mapped IPv6 is the IPv4 address, however it is written', async t => {
  for (const ip of ['::ffff:203.0.113.9', '::FFFF:203.0.113.9', '::ffff:cb00:7109', '0:0:0:0:0:ffff:203.0.113.9', '0000:0000:0000:0000:0000:FFFF:CB00:7109']) {
    t.equal(addressKey(ip), '203.0.113.9', ip)
  }
  t.equal(addressKey('::ffff:7f00:1'), '127.0.0.1')
})

t.test('IPv6 is grouped by /64', async t => {
  const same = ['2001:db8:1:2::1', '2001:db8:1:2::ffff', '2001:db8:1:2:ffff:ffff:ffff:ffff', '2001:0DB8:0001:0002:0000:0000:0000:0001', '2001:db8:1:2:a:b:c:d', '2001:db8:1:2:0:0:1.2.3.4']
  for (const ip of same) t.equal(addressKey(ip), '2001:db8:1:2::/64', ip)
  t.equal(addressKey('2001:db8:1:3::1'), '2001:db8:1:3::/64', 'the next /64 is another key')
  t.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64')
  t.equal(addressKey('::1'), '0:0:0:0::/64', 'loopback')
  t.equal(addressKey('::'), '0:0:0:0::/64')
  t.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64', 'a zone id is dropped')
  t.equal(addressKey('1:2:3:4:5:6:7::'), '1:2:3:4::/64')
  t.equal(addressKey('::2:3:4:5:6:7:8'), '0:2:3:4::/64')
  t.ok(addressKey('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff').length <= 64, 'fits the address column')
})

t.test('what is not an address gets a fixed-length key of its own', async t => {
  const key = addressKey('x'.repeat(500))
  t.match(key, /^\?[0-9a-f]{32}$/)
  t.equal(addressKey('x'.repeat(500)), key, 'the same text, the same key')
  t.not(addressKey('unknown'), key)
  t.not(addressKey('1.2.3'), '1.2.3', 'not an IPv4 address')
})
