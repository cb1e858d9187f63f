/**
 * Baseline for P3: a bare `ws` server. A `message:send` frame from any socket becomes one
 * `message:new` frame of the same shape as the chat server's (every field of a Message, so the
 * bytes per delivery are the same), serialized once and sent to every open socket (the sender
 * too). No auth, no database, no rooms.
 * PORT from the environment.
 */
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'

// A plain GET answers 200, so the bench can wait for it as it waits for the chat server.
const http = createServer((_req, res) => { res.end('ok') })
const server = new WebSocketServer({ server: http, perMessageDeflate: false })
let id = 0
let seq = 0
server.on('connection', socket => {
  socket.on('message', data => {
    const frame = JSON.parse(data.toString()) as { type: string, payload: { room_id: number, content: string } }
    if (frame.type !== 'message:send') return
    const out = Buffer.from(JSON.stringify({
      type: 'message:new',
      payload: {
        id: ++id,
        room_id: frame.payload.room_id,
        user_id: 1,
        username: 'p3user1',
        content: frame.payload.content,
        created_at: new Date(),
        seq: ++seq,
        client_msg_id: null,
        edited_at: null,
        deleted_at: null,
        reply_to: null,
        reply_count: 0,
        reactions: [],
        attachments: []
      }
    }))
    for (const client of server.clients) {
      if (client.readyState === client.OPEN) client.send(out, { binary: false })
    }
  })
})
http.listen(Number(process.env.PORT), '127.0.0.1')
process.on('SIGTERM', () => {
  for (const client of server.clients) client.terminate()
  server.close(() => { http.close(() => process.exit(0)) })
})
