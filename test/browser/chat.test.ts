// The demo page (`/`) in a real browser: two people register and chat live; one goes offline while
// the other writes, comes back and shows every message once, in order; edits, deletes, reactions,
// replies, typing, presence, an image attachment's thumbnail, search and a DM's unread badge reach
// the other side. Screenshots: test-artifacts/browser/.
import type { Page } from 'playwright-core'
import sharp from 'sharp'
import t from 'tap'
import { launch, NO_CHROMIUM, screenshot, serve, watchPage } from './browser.js'

const browser = await launch(t)

/** The texts of the messages shown in the open room, top to bottom. */
async function shown (page: Page): Promise<string[]> {
  return await page.locator('#messages > li .content').allInnerTexts()
}

/** The message element whose text is `text`. */
const message = (page: Page, text: string) => page.locator('#messages > li', { has: page.locator('.content', { hasText: new RegExp(`^${text}$`) }) })

async function register (page: Page, origin: string, name: string): Promise<void> {
  await page.goto(origin)
  await page.getByLabel('Email').fill(`${name}@example.com`)
  await page.getByLabel('Username (to register)').fill(name)
  await page.getByLabel('Password').fill('correct horse battery staple')
  await page.getByRole('button', { name: 'Register' }).click()
  await page.locator('#status', { hasText: 'connected' }).waitFor()
}

async function send (page: Page, text: string): Promise<void> {
  await page.getByLabel('Message', { exact: true }).fill(text)
  await page.getByLabel('Message', { exact: true }).press('Enter')
}

t.test('two people chat on the demo page, and one of them reconnects without losing a message', { skip: browser === undefined ? NO_CHROMIUM : false }, async t => {
  const origin = await serve(t)
  const alice = await browser!.newContext()
  const bob = await browser!.newContext()
  const a = await alice.newPage()
  const b = await bob.newPage()
  const problems = [...watchPage(a, origin), ...watchPage(b, origin)]
  const started = Date.now()
  const lap = (what: string): void => { t.comment(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`) }

  await register(a, origin, 'alice')
  await register(b, origin, 'bob')
  await a.getByLabel('New room').fill('lobby')
  await a.getByRole('button', { name: 'Create' }).click()
  await a.locator('#room-name', { hasText: '# lobby' }).waitFor()
  await b.getByLabel('Find public rooms').fill('lob')
  await b.getByRole('button', { name: 'Find' }).first().click()
  await b.getByRole('button', { name: 'Join lobby' }).click()
  await b.locator('#room-name', { hasText: '# lobby' }).waitFor()

  lap('registered, in one room')
  // Presence and typing, then a live message.
  await a.locator('#presence', { hasText: /bob/ }).waitFor()
  t.match(await a.locator('#presence').innerText(), /alice/, 'alice sees herself and bob online')
  await a.getByLabel('Message', { exact: true }).fill('hello b')
  await b.locator('#typing', { hasText: 'alice is typing…' }).waitFor()
  t.pass('bob sees alice typing')
  await send(a, 'hello bob')
  await message(b, 'hello bob').waitFor()
  t.pass('bob gets alice\'s message live')

  // A reply (with the keyboard: the Reply button focused and pressed).
  await message(b, 'hello bob').getByRole('button', { name: 'Reply' }).focus()
  await b.keyboard.press('Enter')
  t.equal(await b.evaluate(() => document.activeElement?.getAttribute('name')), 'content', 'Reply moves the focus to the message box')
  await b.keyboard.type('hi alice')
  await b.keyboard.press('Enter')
  await message(a, 'hi alice').waitFor()
  t.match(await message(a, 'hi alice').innerText(), /reply to alice: hello bob/, 'alice sees bob\'s reply as a reply')

  lap('live messages, typing, reply')
  // Bob goes offline; alice writes meanwhile; bob comes back and has everything, once, in order.
  await bob.setOffline(true)
  await b.locator('#status', { hasText: 'reconnecting…' }).waitFor()
  t.pass('bob\'s page shows that it is reconnecting')
  const offline = ['while you were away 1', 'while you were away 2', 'while you were away 3', 'while you were away 4', 'while you were away 5']
  for (const text of offline) {
    await send(a, text)
    await message(a, text).waitFor()
  }
  await screenshot(b, 'chat-offline')
  await bob.setOffline(false)
  await b.locator('#status', { hasText: 'connected' }).waitFor()
  await message(b, offline.at(-1)!).waitFor()
  const expected = ['hello bob', 'hi alice', ...offline]
  t.same(await shown(b), expected, 'bob shows every message once, in order, after reconnecting')
  t.same(await shown(a), expected, 'and alice the same timeline')

  lap('offline and back')
  // An edit, a delete and a reaction reach the other side.
  await message(a, offline[0]!).getByRole('button', { name: 'Edit' }).click()
  await a.getByLabel('Edited message').fill('edited while you were away')
  await a.getByRole('button', { name: 'Save' }).click()
  await message(b, 'edited while you were away').waitFor()
  t.match(await message(b, 'edited while you were away').locator('.meta').first().innerText(), /\(edited\)/, 'bob sees the edit, marked edited')
  a.once('dialog', dialog => { dialog.accept().catch(() => {}) })
  await message(a, offline[1]!).getByRole('button', { name: 'Delete' }).click()
  await b.locator('#messages > li.deleted').waitFor()
  t.equal(await message(b, offline[1]!).count(), 0, 'bob no longer sees the deleted message')
  await message(b, offline[2]!).getByRole('button', { name: 'React with 👍' }).click()
  await message(a, offline[2]!).getByRole('button', { name: /👍 1/ }).waitFor()
  t.pass('alice sees bob\'s reaction')
  t.equal(await shown(b).then(texts => texts.length), expected.length, 'the deleted message keeps its place as a tombstone')

  lap('edit, delete, reaction')
  // An image attachment: the other side shows its thumbnail.
  const png = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#3c8' } }).png().toBuffer()
  await a.getByLabel('Attach files').setInputFiles({ name: 'green.png', mimeType: 'image/png', buffer: png })
  await send(a, 'a picture')
  const thumb = message(b, 'a picture').locator('img.thumb')
  await thumb.waitFor()
  await b.waitForFunction(img => img instanceof HTMLImageElement && img.complete && img.naturalWidth > 0, await thumb.elementHandle())
  t.equal(await thumb.evaluate(img => (img as HTMLImageElement).naturalWidth), 320, 'bob sees the thumbnail (320 px wide)')

  lap('attachment')
  // Search, with the matches marked.
  await b.getByLabel('Search messages').fill('picture')
  await b.getByRole('button', { name: 'Search', exact: true }).click()
  await b.locator('#results mark', { hasText: 'picture' }).waitFor()
  t.pass('bob finds the message by search, the match marked')

  lap('search')
  // A DM: bob opens one with alice, writes; alice, in the lobby, gets an unread badge on it.
  await b.getByLabel('Message a user').fill('ali')
  await b.getByRole('button', { name: 'Find' }).last().click()
  await b.getByRole('button', { name: 'Message alice' }).click()
  await b.locator('#room-name', { hasText: 'DM: alice & bob' }).waitFor()
  await send(b, 'psst')
  await a.locator('#rooms button', { hasText: 'DM: alice & bob' }).locator('.badge', { hasText: '1' }).waitFor()
  t.pass('alice sees the DM with an unread badge of 1')
  await screenshot(a, 'chat-alice')
  await a.locator('#rooms button', { hasText: 'DM: alice & bob' }).click()
  await message(a, 'psst').waitFor()
  await a.locator('#rooms button', { hasText: '# lobby' }).click()
  await message(a, 'a picture').waitFor()
  // Empty badges are not displayed: wait for it in the DOM.
  await a.locator('#rooms button', { hasText: 'DM: alice & bob' }).locator('.badge:empty').waitFor({ state: 'attached' })
  t.pass('reading the DM cleared its badge (it stays clear once alice is back in the lobby)')
  await screenshot(b, 'chat-bob')

  t.same(problems, [], 'no CSP refusal, no exception, nothing requested from another origin')
  t.comment(`the chat scenario took ${((Date.now() - started) / 1000).toFixed(1)} s in the browser`)
})
