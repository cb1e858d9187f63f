import t, { type Test } from 'tap'
import { AppError } from '../../src/errors.js'
import { checkMessageText, checkUsername, RESERVED_USERNAMES, usernameKey } from '../../src/chat/text.js'

/** Asserts that `fn` throws a 400 AppError whose sentence starts with the field; returns it. */
function refused (t: Test, fn: () => unknown, field: string, label: string, code = 'VALIDATION_ERROR'): AppError | undefined {
  try {
    fn()
  } catch (err) {
    t.ok(err instanceof AppError, `${label}: an AppError`)
    const e = err as AppError
    t.equal(e.statusCode, 400, `${label}: 400`)
    t.equal(e.code, code, `${label}: ${code}`)
    t.match(e.message, new RegExp(`^${field} `), `${label}: the sentence names ${field}`)
    return e
  }
  t.fail(`${label}: accepted`)
  return undefined
}

const show = (s: string): string => JSON.stringify(s)

t.test('message content: newline and tab are fine, other control characters are not', async t => {
  t.equal(checkMessageText('  line one\n\tline two  '), 'line one\n\tline two', 'trimmed, newline and tab kept')
  t.equal(checkMessageText('\u202Eevil\u202C and zero\u200Bwidth'), '\u202Eevil\u202C and zero\u200Bwidth', 'format characters inside visible text are the sender\'s business')
  t.equal(checkMessageText('👩‍💻 ❤️'), '👩‍💻 ❤️', 'emoji sequences (ZWJ, variation selectors) pass')
  t.equal(checkMessageText('\u0627\u0644\u0639\u0631\u0628\u064A\u0629'), '\u0627\u0644\u0639\u0631\u0628\u064A\u0629')
  for (const content of ['red \u001b[31malert', 'bell\u0007', 'carriage\rreturn', 'CRLF\r\nline', 'nul\u0000', 'delete\u007f', 'C1 \u0085 next line', 'C1 \u009b CSI', 'vertical\u000btab', 'form\u000cfeed']) {
    const err = refused(t, () => checkMessageText(content), 'content', show(content))
    t.match(err?.message ?? '', /control/, `${show(content)}: says why`)
  }
})

t.test('message content: a message made only of invisible characters is refused', async t => {
  for (const content of ['\u200B', '\u200B\u200C\u200D\u2060', '\uFEFF\u200B', '\u3164', '\u2800', '\u00A0\u200B\u3000', '\u034F', '\u{E0020}\u{E0041}', '\u202E\u202C', '\u0301']) {
    const err = refused(t, () => checkMessageText(content), 'content', show(content))
    t.match(err?.message ?? '', /visible/, `${show(content)}: says why`)
  }
  refused(t, () => checkMessageText(' \n\t '), 'content', 'only whitespace')
  refused(t, () => checkMessageText('x'.repeat(4001)), 'content', '4,001 characters')
  t.equal(checkMessageText('x'.repeat(4000)).length, 4000, '4,000 characters are fine')
  t.equal(checkMessageText('.'), '.', 'one visible character is a message')
})

t.test('usernames: visible characters only', async t => {
  t.same(checkUsername('  John Doe  '), { username: 'John Doe', key: 'john doe' }, 'trimmed; the key is case-folded')
  for (const name of ['\u0627\u0644\u0639\u0631\u0628\u064A\u0629', 'Z\u0351\u0358a\u0337\u0321l\u0361g\u0334o', 'Ünïcødé', '李小龍', "Robert'); DROP TABLE users;--", '😀']) {
    t.equal(checkUsername(name).username, name, `${show(name)} is a name`)
  }
  const cases: Array<[string, string]> = [
    ['\u202Egnp.exe', 'a right-to-left override'],
    ['admin\u202C', 'a pop directional formatting'],
    ['\u2066isolate\u2069', 'a bidi isolate'],
    ['mark\u200F', 'a right-to-left mark'],
    ['arabic\u061Cmark', 'an Arabic letter mark'],
    ['a\u200Bb', 'a zero-width space'],
    ['jo\u200Dhn', 'a zero-width joiner'],
    ['bom\uFEFF!', 'a zero-width no-break space'],
    ['soft\u00ADhyphen', 'a soft hyphen'],
    ['word\u2060joiner', 'a word joiner'],
    ['👩‍💻', 'an emoji joined with ZWJ'],
    ['\u{E0041}tag', 'a tag character'],
    ['\u001b[31mred', 'an ANSI escape'],
    ['line\r\nbreak', 'CRLF'],
    ['tab\there', 'a tab'],
    ['next\u0085line', 'a C1 control'],
    ['line\u2028separator', 'a line separator']
  ]
  for (const [name, what] of cases) {
    const err = refused(t, () => checkUsername(name), 'username', what)
    t.match(err?.message ?? '', /control|invisible|bidi/, `${what}: says why`)
  }
  for (const name of ['\u3164', '\u2800', '\u0301\u0302']) {
    const err = refused(t, () => checkUsername(name), 'username', `invisible ${show(name)}`)
    t.match(err?.message ?? '', /visible/)
  }
  refused(t, () => checkUsername('   '), 'username', 'blank')
  refused(t, () => checkUsername('u'.repeat(101)), 'username', '101 characters')
  t.equal(checkUsername('😀'.repeat(100)).username.length, 200, '100 characters (code points) are fine')
  refused(t, () => checkUsername('\uFDFA'.repeat(100)), 'username', '100 characters that NFKC makes 1,800')
})

t.test('usernames: one key for every way of writing the same name', async t => {
  const john = usernameKey('john')
  for (const copy of ['John', 'JOHN', 'ｊｏｈｎ', 'Ｊｏｈｎ', 'john\u200B', '\u200Bjohn', 'jo\u00ADhn', '\u202Ejohn', 'jo\u2060hn', 'john\u0007']) {
    t.equal(usernameKey(copy), john, `${show(copy)} is john`)
  }
  t.equal(usernameKey('Straße'), usernameKey('STRASSE'), 'full case folding: ß is ss')
  t.equal(usernameKey('ΣΊΣΥΦΟΣ'), usernameKey('σίσυφος'), 'final sigma')
  t.equal(usernameKey('e\u0301'), usernameKey('\u00E9'), 'composed and decomposed accents')
  t.equal(usernameKey('ﬁsh'), usernameKey('fish'), 'ligatures')
  t.equal(usernameKey('john doe'), usernameKey('john\u00A0\u3000 doe'), 'runs of spaces are one space')
  t.not(usernameKey('john'), usernameKey('jon'))
  t.not(usernameKey('john'), usernameKey('john2'))
})

t.test('usernames: the reserved names, however they are written', async t => {
  t.same([...RESERVED_USERNAMES].sort(), ['admin', 'administrator', 'moderator', 'owner', 'root', 'support', 'system'])
  for (const name of ['admin', 'Admin', 'ADMINISTRATOR', 'ａｄｍｉｎ', 'Root', 'System', 'SUPPORT', 'Moderator', 'owner', ' owner ']) {
    const err = refused(t, () => checkUsername(name), 'username', show(name), 'USERNAME_RESERVED')
    t.match(err?.message ?? '', /reserved/)
  }
  for (const name of ['admin2', 'the admin', 'rooted', 'owners']) t.equal(checkUsername(name).username, name, `${name} is not reserved`)
})
