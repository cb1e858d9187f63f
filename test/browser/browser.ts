// What the browser tests share: Debian's Chromium driven by playwright-core (never a downloaded
// browser), the app listening on a random port, and screenshots kept under test-artifacts/browser/.
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { Test } from 'tap'
import { build } from '../helper.js'

export const CHROMIUM = '/usr/bin/chromium'
/** The one line a browser test is skipped with where Chromium is missing. */
export const NO_CHROMIUM = `no Chromium at ${CHROMIUM} (apt-get install -y chromium): the browser tests are skipped`
/** Where the screenshots go (git-ignored). */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/browser/', import.meta.url))

/**
 * Chromium, closed when `t` ends; or undefined where it is not installed (the tests then skip with
 * NO_CHROMIUM), a failure instead with REQUIRE_SERVICES=1, as CI runs.
 */
export async function launch (t: Test): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    if (process.env.REQUIRE_SERVICES === '1') throw new Error(`REQUIRE_SERVICES=1, but there is no Chromium at ${CHROMIUM} (apt-get install -y chromium)`)
    return undefined
  }
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] })
  t.teardown(async () => { await browser.close() })
  return browser
}

/** The app on a fresh database, listening on a random port of 127.0.0.1; its origin. */
export async function serve (t: Test): Promise<string> {
  const app = await build(t)
  return await app.listen({ port: 0, host: '127.0.0.1' })
}

/** Saves a screenshot of the page as test-artifacts/browser/<name>.png; returns its path. */
export async function screenshot (page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true })
  const path = join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path, fullPage: true })
  return path
}

/**
 * Collects what a page must never do: break its Content-Security-Policy (Chromium reports each
 * refusal on the console), throw an uncaught exception, or request anything from another origin
 * than `origin`. (Other console errors are expected: failed fetches while a test holds it offline.)
 */
export function watchPage (page: Page, origin: string): string[] {
  const problems: string[] = []
  page.on('console', message => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) problems.push(`CSP: ${message.text()}`)
  })
  page.on('pageerror', error => { problems.push(`exception: ${error.message}`) })
  page.on('request', request => {
    const url = new URL(request.url())
    if (url.protocol !== 'blob:' && url.host !== new URL(origin).host) problems.push(`request to another origin: ${request.url()}`)
  })
  return problems
}
