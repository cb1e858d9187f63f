import { Redis } from 'ioredis'
import t from 'tap'
import { databaseScope } from '../../../src/config.js'
import { presencePrefix } from '../../../plugins/realtime/presence.js'
import { build, createRoom, fixtureUser, joinRoom, type Session } from '../../helper.js'
import { type Frame, listen, PrivateRedis, TestSocket, twoInstances } from '../../ws-client.js'

const presenceOf = (user: Session, status: string) => (f: Frame): boolean =>
  f.type === 'presence' && f.payload.user_id === user.id && f.payload.status === status

/** Asks for the room's online members and returns them. */
async function onlineIn (socket: TestSocket, room: number): Promise<number[]> {
  socket.send({ type: 'presence:get', payload: { room_id: room } })
  return (await socket.next(f => f.type === 'presence:list' && f.payload.room_id === room, 'presence:list')).payload.user_ids
}

t.test('presence on one instance', async t => {
  const app = await build(t)
  const url = await listen(app)
  const alice = await fixtureUser(app, { username: 'alice' })
  const bob = await fixtureUser(app)
  const carol = await fixtureUser(app)
  const room = await createRoom(app, bob, 'presence')
  await joinRoom(app, alice, room)
  await createRoom(app, carol, 'carol only')

  const bob1 = await TestSocket.as(t, url, bob)
  const carol1 = await TestSocket.as(t, url, carol)
  t.same(await onlineIn(bob1, room), [bob.id], 'presence:get: only bob is online')

  const alice1 = await TestSocket.as(t, url, alice)
  const online = await bob1.next(presenceOf(alice, 'online'), 'alice online')
  t.same(online.payload, { room_id: room, user_id: alice.id, username: 'alice', status: 'online' }, 'alice\'s first socket: online')
  const alice2 = await TestSocket.as(t, url, alice)
  t.same(await onlineIn(bob1, room), [alice.id, bob.id].sort((a, b) => a - b), 'presence:get lists both, ascending')
  t.same(await onlineIn(alice2, room), [alice.id, bob.id].sort((a, b) => a - b), 'the same for alice')

  alice1.ws.close()
  await alice1.closed
  t.same(await onlineIn(bob1, room), [alice.id, bob.id].sort((a, b) => a - b), 'one of two sockets closed: still online')
  alice2.ws.close()
  const offline = await bob1.next(presenceOf(alice, 'offline'), 'alice offline')
  t.same(offline.payload, { room_id: room, user_id: alice.id, username: 'alice', status: 'offline' }, 'her last socket closed: offline')
  t.equal(bob1.all(presenceOf(alice, 'online')).length, 1, 'the second socket did not announce her again')
  t.equal(bob1.all(presenceOf(alice, 'offline')).length, 1, 'nor did closing the first')
  t.same(alice1.all(f => f.type === 'presence').concat(alice2.all(f => f.type === 'presence')), [], 'a user is not told about themself')
  t.same(carol1.all(f => f.type === 'presence'), [], 'a user sharing no room with alice hears nothing')
  t.same(await onlineIn(bob1, room), [bob.id])

  carol1.send({ type: 'presence:get', payload: { room_id: room } })
  t.match((await carol1.error()).payload, { code: 'NOT_A_MEMBER' }, 'presence:get: members only')
  carol1.send({ type: 'presence:get', payload: { room_id: 999999 } })
  t.match((await carol1.error()).payload, { code: 'ROOM_NOT_FOUND' })

  await t.test('room:join answers room:joined, then presence:list; the room hears the newcomer is online', async t => {
    carol1.send({ type: 'room:join', payload: { room_id: room } })
    t.match(await carol1.next(f => f.type === 'member:joined'), { payload: { room_id: room, user: { id: carol.id } } })
    t.same(await carol1.next(f => f.type === 'room:joined'), { type: 'room:joined', payload: { room_id: room } })
    t.same(await carol1.next(f => f.type === 'presence:list'), { type: 'presence:list', payload: { room_id: room, user_ids: [bob.id, carol.id].sort((a, b) => a - b) } })
    t.match((await bob1.next(presenceOf(carol, 'online'), 'carol online')).payload, { room_id: room, status: 'online' })
  })

  await t.test('a REST join of a user who is online is announced too', async t => {
    const dave = await fixtureUser(app)
    const dave1 = await TestSocket.as(t, url, dave)
    await joinRoom(app, dave, room)
    t.ok(await bob1.next(presenceOf(dave, 'online'), 'dave online'))
    t.ok(await carol1.next(presenceOf(dave, 'online'), 'dave online (carol)'))
    t.same(await onlineIn(dave1, room), [bob.id, carol.id, dave.id].sort((a, b) => a - b))
  })
})

t.test('presence across two instances, counted in Redis; a dead instance\'s users are swept offline', async t => {
  const redis = await PrivateRedis.start(t)
  const { a, b, urlA, urlB, databaseUrl } = await twoInstances(t, redis.url, { realtime: { presenceTtlMs: 3000 } })
  const alice = await fixtureUser(a)
  const bob = await fixtureUser(b)
  const room = await createRoom(a, alice, 'cluster presence')
  await joinRoom(b, bob, room)

  const bobB = await TestSocket.as(t, urlB, bob)
  const aliceA = await TestSocket.as(t, urlA, alice)
  t.ok(await bobB.next(presenceOf(alice, 'online'), 'alice (on A) online, told to bob (on B)'))
  t.same(await onlineIn(bobB, room), [alice.id, bob.id].sort((x, y) => x - y), 'B knows alice is online on A')

  const aliceB = await TestSocket.as(t, urlB, alice)
  aliceA.send({ type: 'typing', payload: { room_id: room } })
  t.match((await bobB.next(f => f.type === 'typing', 'typing across instances')).payload, { user_id: alice.id, room_id: room })

  aliceA.ws.close()
  await aliceA.closed
  t.same(await onlineIn(bobB, room), [alice.id, bob.id].sort((x, y) => x - y), 'her socket on B keeps her online')
  aliceB.ws.close()
  t.ok(await bobB.next(presenceOf(alice, 'offline'), 'alice offline once her sockets on both instances are closed'))
  t.equal(bobB.all(presenceOf(alice, 'online')).length, 1, 'online was announced once, for the first socket on either instance')
  t.same(aliceB.all(f => f.type === 'typing'), [], 'the typer\'s socket on the other instance did not get her own typing')
  t.same(await onlineIn(bobB, room), [bob.id])

  await t.test('an instance that died without cleaning up: its share expires and its users go offline', async t => {
    const carol = await fixtureUser(a)
    await joinRoom(a, carol, room)
    // What a crashed instance leaves behind: its share and the total, and no `alive` key refreshed.
    const prefix = presencePrefix(databaseScope(databaseUrl, ''))
    const raw = new Redis(redis.url)
    t.teardown(() => { raw.disconnect() })
    await raw.multi()
      .hincrby(`${prefix}:instance:dead`, String(carol.id), 1)
      .hincrby(`${prefix}:online`, String(carol.id), 1)
      .sadd(`${prefix}:instances`, 'dead')
      .exec()
    const offline = await bobB.next(presenceOf(carol, 'offline'), 'carol swept offline')
    t.match(offline.payload, { room_id: room, username: carol.username, status: 'offline' })
    t.same(await onlineIn(bobB, room), [bob.id], 'no longer listed')
    t.equal(await raw.sismember(`${prefix}:instances`, 'dead'), 0, 'the dead instance is forgotten')
    t.equal(await raw.exists(`${prefix}:instance:dead`), 0)
  })

  await t.test('after Redis restarts (all counts lost), the instances register their sockets again', async t => {
    const aliceA2 = await TestSocket.as(t, urlA, alice)
    await bobB.next(presenceOf(alice, 'online'), 'alice online again')
    await redis.restart()
    let listed: number[] = []
    for (let probe = 0; probe < 200 && listed.length < 2; probe++) {
      listed = await onlineIn(bobB, room)
      if (listed.length < 2) await new Promise(resolve => setTimeout(resolve, 100))
    }
    t.same(listed, [alice.id, bob.id].sort((x, y) => x - y), 'both are counted in the new Redis')
    aliceA2.ws.close()
    t.ok(await bobB.next(presenceOf(alice, 'offline'), 'and her last socket closing is announced'))
  })
})
