// The demo chat page (served at `/`): every action goes through the client SDK (sdk/src), the
// REST client for requests and ChatClient for the live feed. Bundled by scripts/build.mjs
// (`buildWeb`) into dist/web/main.js; no framework: the DOM, kept in step with the SDK's RoomState.
import { ChatClient, restClient, type components, type Message, type RoomState, type Status } from '../sdk/src/index.js'

type Api = ReturnType<typeof restClient>
type MyRoom = components['schemas']['MyRoom']
interface Me { id: number, username: string }
interface Session { token: string, user: Me }

const REACTIONS = ['👍', '❤️', '😂']
/** Typing frames are answered at most once per 2 s per room by the server: send no more often. */
const TYPING_EVERY_MS = 2000
/** How long "… is typing" shows after the last typing frame. */
const TYPING_SHOWS_MS = 4000
const STATUS_TEXT: Record<Status, string> = { idle: 'signed out', connecting: 'connecting…', open: 'connected', reconnecting: 'reconnecting…', closed: 'disconnected' }

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`#${id} is missing from index.html`)
  return el as T
}

/** An element with attributes and children (text is always set as text, never parsed as HTML). */
function h (tag: string, attrs: Record<string, string | boolean> = {}, ...children: Array<Node | string>): HTMLElement {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false) continue
    el.setAttribute(name, value === true ? '' : value)
  }
  el.append(...children)
  return el
}

function button (label: string, onClick: () => void, attrs: Record<string, string | boolean> = {}): HTMLButtonElement {
  const el = h('button', { type: 'button', ...attrs }, label) as HTMLButtonElement
  el.addEventListener('click', onClick)
  return el
}

/** The server's `{error}` sentence, or a generic one. */
function problem (error: unknown): string {
  if (typeof error === 'object' && error !== null && 'error' in error && typeof error.error === 'string') return error.error
  if (error instanceof Error) return error.message
  return 'something went wrong'
}

/** Runs an action, showing its failure in `where` (an alert region) instead of throwing. */
async function attempt (where: HTMLElement, action: () => Promise<void>): Promise<void> {
  where.textContent = ''
  try {
    await action()
  } catch (err) {
    where.textContent = problem((err as { body?: unknown }).body ?? err)
  }
}

/** openapi-fetch's answer, or its error body thrown. */
function ok<T> (result: { data?: T, error?: unknown }): T {
  if (result.error !== undefined || result.data === undefined) throw Object.assign(new Error(problem(result.error)), { body: result.error })
  return result.data
}

const origin = location.origin

// ---- signing in ------------------------------------------------------------------------------

$('auth-form').addEventListener('submit', event => {
  event.preventDefault()
  const form = event.target as HTMLFormElement
  const data = new FormData(form)
  const register = (event as SubmitEvent).submitter?.getAttribute('value') === 'register'
  const email = String(data.get('email'))
  const password = String(data.get('password'))
  background(attempt($('auth-error'), async () => {
    const api = restClient(origin)
    if (register) ok(await api.POST('/api/v1/users/register', { body: { email, password, username: String(data.get('username')) } }))
    const login = ok(await api.POST('/api/v1/users/login', { body: { email, password } }))
    const session = { token: login.token, user: { id: login.user.id, username: login.user.username } }
    sessionStorage.setItem('chat-session', JSON.stringify(session))
    form.reset()
    await start(session)
  }))
})

$('logout').addEventListener('click', () => {
  const current = chat
  chat = undefined
  sessionStorage.removeItem('chat-session')
  if (current !== undefined) {
    current.client.close()
    background(current.api.POST('/api/v1/users/logout'))
  }
  $('chat').hidden = true
  $('logout').hidden = true
  $('signin').hidden = false
  showStatus('idle')
})

function showStatus (status: Status): void {
  const el = $('status')
  el.textContent = STATUS_TEXT[status]
  el.className = `status ${status}`
}

// ---- the chat --------------------------------------------------------------------------------

interface Chat {
  api: Api
  client: ChatClient
  me: Me
  /** Your rooms as GET /users/me/rooms lists them (names, kinds, roles). */
  rooms: Map<number, MyRoom>
  current: number | undefined
  replyTo: Message | undefined
  /** Usernames by user id, learnt from messages, members and presence. */
  names: Map<number, string>
  online: Map<number, Set<number>>
  typing: Map<number, { username: string, until: number, room: number }>
  /** Each shown message's element, re-rendered only when the SDK replaced its Message. */
  shown: Map<number, { message: Message, el: HTMLElement }>
  thumbnails: Map<number, string>
  lastTyping: number
}
let chat: Chat | undefined

async function start (session: Session): Promise<void> {
  const api = restClient(origin, session.token)
  const client = new ChatClient({ baseUrl: origin, token: session.token, userId: session.user.id })
  const c: Chat = { api, client, me: session.user, rooms: new Map(), current: undefined, replyTo: undefined, names: new Map([[session.user.id, session.user.username]]), online: new Map(), typing: new Map(), shown: new Map(), thumbnails: new Map(), lastTyping: 0 }
  chat = c
  client.on('status', showStatus)
  client.on('room', state => {
    if (!c.rooms.has(state.id)) background(loadRooms(c))
    if (state.id === c.current) { renderMessages(c, state); markRead(c, state) }
    renderRooms(c)
  })
  client.on('removed', roomId => {
    c.rooms.delete(roomId)
    if (c.current === roomId) selectRoom(c, undefined)
    renderRooms(c)
  })
  client.on('unauthorized', () => { $('logout').click() })
  client.on('frame', frame => {
    if (frame.type === 'typing' && frame.payload.user_id !== c.me.id) {
      c.typing.set(frame.payload.user_id, { username: frame.payload.username, until: Date.now() + TYPING_SHOWS_MS, room: frame.payload.room_id })
      renderTyping(c)
      setTimeout(() => { renderTyping(c) }, TYPING_SHOWS_MS + 50)
    } else if (frame.type === 'presence') {
      const online = c.online.get(frame.payload.room_id) ?? new Set()
      c.names.set(frame.payload.user_id, frame.payload.username)
      if (frame.payload.status === 'online') online.add(frame.payload.user_id)
      else online.delete(frame.payload.user_id)
      c.online.set(frame.payload.room_id, online)
      renderPresence(c)
    } else if (frame.type === 'presence:list') {
      c.online.set(frame.payload.room_id, new Set(frame.payload.user_ids))
      renderPresence(c)
    } else if (frame.type === 'room:added' || frame.type === 'room:invited') {
      background(loadRooms(c))
    } else if (frame.type === 'message:new' && frame.payload.user_id !== null) {
      c.names.set(frame.payload.user_id, frame.payload.username ?? `user ${frame.payload.user_id}`)
      // Someone typing who has now sent: no longer typing.
      if (c.typing.delete(frame.payload.user_id)) renderTyping(c)
    }
  })
  $('signin').hidden = true
  $('chat').hidden = false
  $('logout').hidden = false
  await loadRooms(c)
  await client.connect()
  const first = c.rooms.keys().next()
  if (first.done !== true && c.current === undefined) selectRoom(c, first.value)
}

async function loadRooms (c: Chat): Promise<void> {
  const rooms = ok(await c.api.GET('/api/v1/users/me/rooms', { params: { query: { limit: 100 } } }))
  c.rooms = new Map(rooms.map(room => [room.id, room]))
  renderRooms(c)
}

function roomLabel (room: MyRoom): string {
  return room.is_direct ? `DM: ${room.name}` : `# ${room.name}`
}

function renderRooms (c: Chat): void {
  const list = $('rooms')
  const items = [...c.rooms.values()].map(room => {
    const unread = room.id === c.current ? 0 : (c.client.rooms.get(room.id)?.unread ?? room.unread_count)
    const badge = h('span', { class: 'badge', 'aria-label': `${unread} unread` }, unread > 0 ? String(unread) : '')
    const select = button('', () => { selectRoom(c, room.id) }, { 'aria-current': String(room.id === c.current), 'data-room': String(room.id) })
    select.append(h('span', {}, roomLabel(room)), badge)
    return h('li', {}, select)
  })
  // Keep the focused room button focused across the re-render.
  const focused = (document.activeElement as HTMLElement | null)?.dataset.room
  list.replaceChildren(...items)
  if (focused !== undefined) list.querySelector<HTMLElement>(`[data-room="${focused}"]`)?.focus()
}

function selectRoom (c: Chat, roomId: number | undefined): void {
  c.current = roomId
  c.replyTo = undefined
  c.shown.clear()
  $('messages').replaceChildren()
  $('replying').hidden = true
  $('composer').hidden = roomId === undefined
  const room = roomId === undefined ? undefined : c.rooms.get(roomId)
  $('room-name').textContent = room === undefined ? 'Pick a room' : roomLabel(room)
  renderRooms(c)
  renderTyping(c)
  if (roomId === undefined) return
  const state = c.client.rooms.get(roomId) ?? c.client.watch(roomId)
  renderMessages(c, state)
  markRead(c, state)
  background(loadMembers(c, roomId))
}

async function loadMembers (c: Chat, roomId: number): Promise<void> {
  const { data } = await c.api.GET('/api/v1/rooms/{id}/members', { params: { path: { id: roomId }, query: { limit: 100 } } })
  for (const member of data ?? []) c.names.set(member.user_id, member.username)
  c.client.sendFrame({ type: 'presence:get', payload: { room_id: roomId } })
  renderPresence(c)
}

function renderPresence (c: Chat): void {
  const online = c.current === undefined ? [] : [...(c.online.get(c.current) ?? [])]
  $('presence').textContent = online.length === 0 ? '' : `Online: ${online.map(id => c.names.get(id) ?? `user ${id}`).join(', ')}`
}

function renderTyping (c: Chat): void {
  const now = Date.now()
  const names = [...c.typing.values()].filter(t => t.room === c.current && t.until > now).map(t => t.username)
  $('typing').textContent = names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`
}

/** Moves your read marker to the room's last frame while you look at it (badges clear on your other tabs too). */
function markRead (c: Chat, state: RoomState): void {
  if (document.visibilityState !== 'visible' || state.unread === 0) return
  const seq = state.lastSeq
  background(c.api.POST('/api/v1/rooms/{id}/read', { params: { path: { id: state.id } }, body: { seq } }).then(({ data }) => {
    if (data !== undefined) state.lastReadSeq = Math.max(state.lastReadSeq, data.last_read_seq)
    renderRooms(c)
  }))
}

// ---- messages ----------------------------------------------------------------------------------

function renderMessages (c: Chat, state: RoomState): void {
  const list = $('messages')
  const timeline = state.timeline()
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40
  let previous: Element | null = null
  for (const message of timeline) {
    let entry = c.shown.get(message.id)
    if (entry === undefined || entry.message !== message) {
      const el = renderMessage(c, message, state)
      if (entry !== undefined) entry.el.replaceWith(el)
      entry = { message, el }
      c.shown.set(message.id, entry)
    }
    // In seq order: each element right after the one before it.
    const expected: Element | null = previous === null ? list.firstElementChild : previous.nextElementSibling
    if (expected !== entry.el) {
      if (previous === null) list.prepend(entry.el)
      else previous.after(entry.el)
    }
    previous = entry.el
  }
  if (atBottom) list.scrollTop = list.scrollHeight
}

function renderMessage (c: Chat, m: Message, state: RoomState): HTMLElement {
  const mine = m.user_id === c.me.id
  const deleted = m.deleted_at !== null
  const role = c.rooms.get(m.room_id)?.role
  const canDelete = !deleted && (mine || role === 'owner' || role === 'moderator')
  const meta = [m.username, new Date(m.created_at).toLocaleTimeString()]
  if (m.edited_at !== null && !deleted) meta.push('(edited)')
  const parent = m.reply_to === null ? undefined : state.messages.get(m.reply_to)
  const li = h('li', { class: deleted ? 'message deleted' : 'message', id: `message-${m.id}`, 'data-seq': String(m.seq) },
    h('div', { class: 'meta' }, meta.join(' · ')))
  if (m.reply_to !== null) li.append(h('div', { class: 'meta reply-to' }, `↪ reply to ${parent === undefined ? `message ${m.reply_to}` : `${parent.username}: ${parent.content.slice(0, 60) || '(deleted)'}`}`))
  li.append(h('p', { class: 'content' }, deleted ? 'message deleted' : m.content))
  if (deleted) return li
  for (const file of m.attachments) li.append(renderAttachment(c, file))
  const actions = h('div', { class: 'actions' })
  for (const r of m.reactions) {
    actions.append(button(`${r.emoji} ${r.count}`, () => { background(react(c, m.id, r.emoji, !r.me)) }, { class: 'reaction', 'aria-pressed': String(r.me), 'aria-label': `${r.emoji} ${r.count}, ${r.me ? 'remove yours' : 'add yours'}` }))
  }
  for (const emoji of REACTIONS.filter(e => !m.reactions.some(r => r.emoji === e))) {
    actions.append(button(`+${emoji}`, () => { background(react(c, m.id, emoji, true)) }, { 'aria-label': `React with ${emoji}` }))
  }
  actions.append(button('Reply', () => { startReply(c, m) }))
  if (mine) actions.append(button('Edit', () => { startEdit(c, li, m) }))
  if (canDelete) actions.append(button('Delete', () => { background(deleteMessage(c, m)) }))
  li.append(actions)
  return li
}

function renderAttachment (c: Chat, file: Message['attachments'][number]): HTMLElement {
  const download = button(`⤓ ${file.filename} (${Math.ceil(file.size / 1024)} KiB)`, () => { background(save(c, file.id, file.filename)) })
  if (file.width === null) return h('div', { class: 'attachment' }, download)
  const img = h('img', { class: 'thumb', alt: file.filename }) as HTMLImageElement
  background(thumbnail(c, file.id).then(url => { if (url !== undefined) img.src = url }))
  return h('div', { class: 'attachment' }, img, download)
}

/** The thumbnail as a blob: URL (the request carries your token, which an <img src> could not). */
async function thumbnail (c: Chat, id: number): Promise<string | undefined> {
  const known = c.thumbnails.get(id)
  if (known !== undefined) return known
  const { data } = await c.api.GET('/api/v1/attachments/{id}/thumbnail', { params: { path: { id } }, parseAs: 'blob' })
  if (data === undefined) return undefined
  const url = URL.createObjectURL(data)
  c.thumbnails.set(id, url)
  return url
}

async function save (c: Chat, id: number, filename: string): Promise<void> {
  const { data } = await c.api.GET('/api/v1/attachments/{id}', { params: { path: { id } }, parseAs: 'blob' })
  if (data === undefined) return
  const url = URL.createObjectURL(data)
  const link = h('a', { href: url, download: filename })
  link.click()
  setTimeout(() => { URL.revokeObjectURL(url) }, 10_000)
}

async function react (c: Chat, id: number, emoji: string, add: boolean): Promise<void> {
  const params = { params: { path: { id, emoji } } }
  await attempt($('send-error'), async () => {
    if (add) ok(await c.api.PUT('/api/v1/messages/{id}/reactions/{emoji}', params))
    else { const { error } = await c.api.DELETE('/api/v1/messages/{id}/reactions/{emoji}', params); if (error !== undefined) throw Object.assign(new Error(problem(error)), { body: error }) }
  })
}

async function deleteMessage (c: Chat, m: Message): Promise<void> {
  if (!confirm('Delete this message?')) return
  await attempt($('send-error'), async () => {
    const { error } = await c.api.DELETE('/api/v1/messages/{id}', { params: { path: { id: m.id } } })
    if (error !== undefined) throw Object.assign(new Error(problem(error)), { body: error })
  })
}

function startEdit (c: Chat, li: HTMLElement, m: Message): void {
  const input = h('textarea', { name: 'content', rows: '2', maxlength: '4000', 'aria-label': 'Edited message' }) as HTMLTextAreaElement
  input.value = m.content
  const error = h('p', { class: 'error', role: 'alert' })
  const form = h('form', { class: 'edit' }, input, h('button', { type: 'submit' }, 'Save'), button('Cancel', () => { form.replaceWith(li); li.querySelector('button')?.focus() }), error)
  form.addEventListener('submit', event => {
    event.preventDefault()
    background(attempt(error, async () => {
      ok(await c.api.PATCH('/api/v1/messages/{id}', { params: { path: { id: m.id } }, body: { content: input.value } }))
      // The feed's message:updated re-renders the message (replacing this form).
      if (form.isConnected) form.replaceWith(li)
    }))
  })
  li.replaceWith(form)
  // The form stands in for the message until the edit lands: keep its place in the list.
  c.shown.set(m.id, { message: m, el: form })
  input.focus()
}

function startReply (c: Chat, m: Message): void {
  c.replyTo = m
  const replying = $('replying')
  replying.hidden = false
  replying.querySelector('span')!.textContent = `Replying to ${m.username}: ${m.content.slice(0, 60)}`
  $<HTMLTextAreaElement>('composer').querySelector('textarea')!.focus()
}

$('cancel-reply').addEventListener('click', () => {
  if (chat === undefined) return
  chat.replyTo = undefined
  $('replying').hidden = true
  $('composer').querySelector('textarea')!.focus()
})

$('composer').addEventListener('submit', event => {
  event.preventDefault()
  const c = chat
  if (c === undefined || c.current === undefined) return
  const form = event.target as HTMLFormElement
  const content = form.querySelector('textarea')!
  const files = form.querySelector<HTMLInputElement>('input[type=file]')!
  const roomId = c.current
  const replyTo = c.replyTo
  background(attempt($('send-error'), async () => {
    const attachmentIds: number[] = []
    for (const file of files.files ?? []) {
      const body = new FormData()
      body.append('file', file, file.name)
      const uploaded = ok(await c.api.POST('/api/v1/attachments', { body: body as never, bodySerializer: (b: unknown) => b as FormData }))
      attachmentIds.push(uploaded.id)
    }
    const text = content.value
    content.value = ''
    files.value = ''
    c.replyTo = undefined
    $('replying').hidden = true
    try {
      // Retried with the same client_msg_id until the server answers: sent once, even across a reconnect.
      await c.client.send(roomId, text, { ...(replyTo === undefined ? {} : { reply_to: replyTo.id }), ...(attachmentIds.length === 0 ? {} : { attachment_ids: attachmentIds }) })
    } catch (err) {
      if (content.value === '') content.value = text
      throw err
    }
  }))
})

// Enter sends, Shift+Enter is a new line.
$('composer').querySelector('textarea')!.addEventListener('keydown', event => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault()
    $<HTMLFormElement>('composer').requestSubmit()
  }
})

$('composer').querySelector('textarea')!.addEventListener('input', () => {
  const c = chat
  if (c === undefined || c.current === undefined || Date.now() - c.lastTyping < TYPING_EVERY_MS) return
  if (c.client.sendFrame({ type: 'typing', payload: { room_id: c.current } })) c.lastTyping = Date.now()
})

document.addEventListener('visibilitychange', () => {
  const state = chat?.current === undefined ? undefined : chat.client.rooms.get(chat.current)
  if (chat !== undefined && state !== undefined) markRead(chat, state)
})

// ---- rooms, DMs, search ------------------------------------------------------------------------

/**
 * Runs `run` with the signed-in chat and the form's fields when `formId` is submitted; a failure
 * shows under the composer.
 */
function onSubmit (formId: string, run: (c: Chat, fields: FormData, form: HTMLFormElement) => Promise<void>): void {
  $(formId).addEventListener('submit', event => {
    event.preventDefault()
    const c = chat
    if (c === undefined) return
    const form = event.target as HTMLFormElement
    background(attempt($('send-error'), async () => { await run(c, new FormData(form), form) }))
  })
}

/** Opens a room just created, joined or started as a DM: the list refreshed, its history replayed. */
async function enter (c: Chat, roomId: number): Promise<void> {
  await loadRooms(c)
  c.client.watch(roomId)
  selectRoom(c, roomId)
}

onSubmit('create-room', async (c, fields, form) => {
  const room = ok(await c.api.POST('/api/v1/rooms', { body: { name: String(fields.get('name')) } }))
  form.reset()
  await enter(c, room.id)
})

onSubmit('join-room', async (c, fields) => {
  const rooms = ok(await c.api.GET('/api/v1/rooms', { params: { query: { q: String(fields.get('q')), limit: 20 } } }))
  $('public-rooms').replaceChildren(...rooms.filter(room => !c.rooms.has(room.id)).map(room => h('li', {}, `${room.name} (${room.member_count}) `, button('Join', () => {
    background(attempt($('send-error'), async () => {
      ok(await c.api.POST('/api/v1/rooms/{id}/join', { params: { path: { id: room.id } } }))
      $('public-rooms').replaceChildren()
      await enter(c, room.id)
    }))
  }, { 'aria-label': `Join ${room.name}` }))))
})

onSubmit('open-dm', async (c, fields) => {
  const users = ok(await c.api.GET('/api/v1/users', { params: { query: { q: String(fields.get('q')), limit: 20 } } }))
  $('users').replaceChildren(...users.filter(user => user.id !== c.me.id).map(user => h('li', {}, `${user.username} `, button('Message', () => {
    background(attempt($('send-error'), async () => {
      const room = ok(await c.api.POST('/api/v1/dms', { body: { user_id: user.id } }))
      $('users').replaceChildren()
      await enter(c, room.id)
    }))
  }, { 'aria-label': `Message ${user.username}` }))))
})

onSubmit('search', async (c, fields) => {
  const { results } = ok(await c.api.GET('/api/v1/search/messages', { params: { query: { q: String(fields.get('q')), limit: 20 } } }))
  const items = results.map(({ message, highlight }) => {
    // `highlight` is HTML the server escaped except for its <mark> tags (the contract's promise).
    const passage = h('p', { class: 'content' })
    passage.innerHTML = highlight
    const room = c.rooms.get(message.room_id)
    return h('li', {}, h('div', { class: 'meta' }, `${message.username} in ${room === undefined ? `room ${message.room_id}` : roomLabel(room)}`), passage,
      button('Show', () => {
        if (c.current !== message.room_id) selectRoom(c, message.room_id)
        document.getElementById(`message-${message.id}`)?.querySelector('button')?.focus()
      }, { 'aria-label': `Show the message by ${message.username}` }))
  })
  $('results').replaceChildren(...(items.length === 0 ? [h('li', {}, 'No messages found')] : items))
})

// A session kept in this tab (sessionStorage) survives a reload.
const saved = sessionStorage.getItem('chat-session')
if (saved !== null) background(start(JSON.parse(saved) as Session).catch(() => { $('logout').click() }))

/** Starts a promise without awaiting it; a failure nobody else handles is logged, never unhandled. */
function background (promise: Promise<unknown>): void {
  promise.catch((err: unknown) => { console.error(err) })
}
