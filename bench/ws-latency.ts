// p50/p99 send->deliver latency over 200 sequential WebSocket messages (sender socket -> another member's socket).
import pg from 'pg'
import WebSocket from 'ws'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

const admin = 'postgres://postgres@127.0.0.1:5432/postgres'
const name = `chat_latency_${process.pid}`
const c = new pg.Client(admin); await c.connect(); await c.query(`create database ${name}`); await c.end()
const app = buildApp(loadConfig({ DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${name}`, JWT_SECRET: 'x'.repeat(40), LOG_LEVEL: 'silent', BCRYPT_COST: '10', RATE_LIMIT_ENABLED: 'false', DATA_DIR: 'memory://' }), { logger: false })
const address = await app.listen({ port: 0, host: '127.0.0.1' })
async function user (n: string): Promise<string> {
  await app.inject({ method: 'POST', url: '/api/v1/users/register', payload: { email: `${n}@example.com`, password: 'correct horse battery staple', username: n } })
  return (await app.inject({ method: 'POST', url: '/api/v1/users/login', payload: { email: `${n}@example.com`, password: 'correct horse battery staple' } })).json().token
}
const [ta, tb] = [await user('alice'), await user('bob')]
const room = (await app.inject({ method: 'POST', url: '/api/v1/rooms', headers: { authorization: `Bearer ${ta}` }, payload: { name: 'lat' } })).json().id
await app.inject({ method: 'POST', url: `/api/v1/rooms/${room}/join`, headers: { authorization: `Bearer ${tb}` } })
const open = async (token: string): Promise<WebSocket> => { const ws = new WebSocket(`${address.replace('http', 'ws')}/ws?token=${token}`); await new Promise(resolve => ws.once('open', resolve)); return ws }
const [sender, receiver] = [await open(ta), await open(tb)]
const samples: number[] = []
for (let i = 0; i < 220; i++) {
  const got = new Promise<void>(resolve => { const on = (d: WebSocket.RawData): void => { if (JSON.parse(String(d)).payload?.content === `m${i}`) { receiver.off('message', on); resolve() } }; receiver.on('message', on) })
  const t0 = process.hrtime.bigint()
  sender.send(JSON.stringify({ type: 'message:send', payload: { room_id: room, content: `m${i}` } }))
  await got
  if (i >= 20) samples.push(Number(process.hrtime.bigint() - t0) / 1e6) // first 20: warm-up
}
samples.sort((a, b) => a - b)
const q = (p: number): string => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]!.toFixed(2)
console.log(`n=${samples.length} p50=${q(0.5)}ms p90=${q(0.9)}ms p99=${q(0.99)}ms max=${samples.at(-1)!.toFixed(2)}ms`)
sender.close(); receiver.close(); await app.close()
const d = new pg.Client(admin); await d.connect(); await d.query(`drop database ${name} with (force)`); await d.end()
