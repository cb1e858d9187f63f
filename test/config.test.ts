import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t, { type Test } from 'tap'
import { poolConfig } from '../db/connect.js'
import { ConfigError, loadConfig } from '../src/config.js'
import { selfSignedCertificate } from './helper.js'

const SECRET = 'a-production-secret-of-at-least-32-chars'
/** Development without a JWT_SECRET would write one under DATA_DIR: keep it in memory. */
const base = { DATA_DIR: 'memory://' }

function throwsNaming (t: Test, env: Record<string, string>, variable: string, label: string): void {
  try {
    loadConfig(env)
    t.fail(`${label}: expected a ConfigError`)
  } catch (err) {
    t.ok(err instanceof ConfigError, `${label}: a ConfigError`)
    t.match((err as Error).message, new RegExp(`^${variable} `), `${label}: the message starts with ${variable}`)
    t.notMatch((err as Error).message, /\n/, `${label}: one line`)
  }
}

t.test('defaults', async t => {
  const config = loadConfig(base)
  t.equal(config.port, 8080)
  t.equal(config.host, '0.0.0.0')
  t.equal(config.environment, 'development')
  t.equal(config.logLevel, 'info')
  t.equal(config.databaseUrl, undefined, 'no database configured: the embedded engine')
  t.equal(config.jwt.expiresIn, '24h')
  t.equal(config.jwt.issuer, 'chat-app')
  t.equal(config.jwt.audience, 'chat-app')
  t.ok(config.jwt.secret.length >= 32, 'a generated development secret')
  t.equal(config.bcryptCost, 12)
  t.equal(config.corsOrigins, true, 'any origin in development')
  t.equal(config.redisUrl, undefined)
  t.same(config.rateLimit, { enabled: true, register: 20, login: 30, messages: 30, global: 300, rooms: 20, wsFrames: 600, uploads: 30 })
  t.same(config.uploads, { maxBytes: 10 * 1024 * 1024, ttlHours: 24, driver: 'disk', s3: undefined })
  t.same(config.websocket, { maxSocketsPerUser: 20, maxSocketsPerAddress: 200 })
  t.same(config.feed, { gapWaitMs: 150 })
  t.equal(config.wsOrigins, true, 'any page may open a socket in development')
  t.match(config.scope, /^embedded:/, 'the deployment is named by its database')
  t.equal(config.tls, undefined, 'plain HTTP')
  t.equal(config.trustProxy, false, 'X-Forwarded-For is not believed')
  t.equal(loadConfig({ JWT_SECRET: SECRET }).dataDir, resolve('./data'), 'DATA_DIR defaults to ./data')
})

t.test('a generated development secret is kept under DATA_DIR and reused', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const first = loadConfig({ DATA_DIR: dir })
  t.match(first.warnings.join('\n'), /JWT_SECRET/, 'with a warning')
  const file = join(dir, 'jwt-secret')
  t.equal(readFileSync(file, 'utf8').trim(), first.jwt.secret)
  t.equal(statSync(file).mode & 0o077, 0, 'readable by its owner only')
  t.equal(loadConfig({ DATA_DIR: dir }).jwt.secret, first.jwt.secret, 'the same secret after a restart')
})

t.test('port: PORT, or the seed\'s APP_PORT', async t => {
  t.equal(loadConfig({ ...base, APP_PORT: '3000' }).port, 3000)
  t.equal(loadConfig({ ...base, PORT: '4000' }).port, 4000)
  t.equal(loadConfig({ ...base, PORT: '4000', APP_PORT: '3000' }).port, 4000, 'PORT wins')
  t.equal(loadConfig({ ...base, PORT: '0' }).port, 0, 'port 0: any free port')
  for (const value of ['abc', '-1', '65536', '80.5', '8080x']) throwsNaming(t, { ...base, PORT: value }, 'PORT', `PORT=${value}`)
  throwsNaming(t, { ...base, APP_PORT: 'http' }, 'APP_PORT', 'APP_PORT=http')
  throwsNaming(t, { ...base, MAX_UPLOAD_BYTES: '10MB' }, 'MAX_UPLOAD_BYTES', 'MAX_UPLOAD_BYTES=10MB')
  throwsNaming(t, { ...base, UPLOAD_TTL_HOURS: '0' }, 'UPLOAD_TTL_HOURS', 'UPLOAD_TTL_HOURS=0')
  throwsNaming(t, { ...base, RATE_LIMIT_UPLOADS: 'many' }, 'RATE_LIMIT_UPLOADS', 'RATE_LIMIT_UPLOADS=many')
  throwsNaming(t, { ...base, STORAGE_DRIVER: 'ftp' }, 'STORAGE_DRIVER', 'STORAGE_DRIVER=ftp')
})

t.test('storage: STORAGE_DRIVER=s3 and its S3_ variables', async t => {
  const s3 = { ...base, STORAGE_DRIVER: 's3', S3_BUCKET: 'chat-files' }
  t.same(loadConfig(s3).uploads.s3, { bucket: 'chat-files', region: 'us-east-1', endpoint: undefined, forcePathStyle: false, credentials: undefined },
    'only a bucket: the default region and the SDK\'s default credentials')
  t.same(loadConfig({ ...s3, STORAGE_DRIVER: 'S3', S3_REGION: 'eu-west-3', S3_ENDPOINT: 'http://127.0.0.1:9000', S3_FORCE_PATH_STYLE: 'true', S3_ACCESS_KEY_ID: 'AKIA1', S3_SECRET_ACCESS_KEY: 'secret' }).uploads,
    { maxBytes: 10 * 1024 * 1024, ttlHours: 24, driver: 's3', s3: { bucket: 'chat-files', region: 'eu-west-3', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, credentials: { accessKeyId: 'AKIA1', secretAccessKey: 'secret' } } })
  t.equal(loadConfig({ ...base, S3_BUCKET: 'Not A Bucket!' }).uploads.s3, undefined, 'the S3_ variables are not read for disk')
  throwsNaming(t, { ...base, STORAGE_DRIVER: 's3' }, 'S3_BUCKET', 's3 without a bucket')
  throwsNaming(t, { ...s3, S3_BUCKET: 'My_Bucket' }, 'S3_BUCKET', 'a bucket name S3 refuses')
  throwsNaming(t, { ...s3, S3_BUCKET: 'ab' }, 'S3_BUCKET', 'a bucket name too short')
  throwsNaming(t, { ...s3, S3_REGION: 'EU West' }, 'S3_REGION', 'a region with spaces')
  throwsNaming(t, { ...s3, S3_ENDPOINT: 'minio:9000' }, 'S3_ENDPOINT', 'an endpoint without a scheme')
  throwsNaming(t, { ...s3, S3_FORCE_PATH_STYLE: 'sometimes' }, 'S3_FORCE_PATH_STYLE', 'path style neither true nor false')
  throwsNaming(t, { ...s3, S3_ACCESS_KEY_ID: 'AKIA1' }, 'S3_ACCESS_KEY_ID', 'a key id without its secret')
  throwsNaming(t, { ...s3, S3_SECRET_ACCESS_KEY: 'secret' }, 'S3_ACCESS_KEY_ID', 'a secret without its key id')
})

t.test('database: DATABASE_URL, or the seed\'s DB_* variables', async t => {
  t.equal(loadConfig({ ...base, DATABASE_URL: 'postgres://u:p@db.example:5432/chat?sslmode=require' }).databaseUrl,
    'postgres://u:p@db.example:5432/chat?sslmode=require')
  const seed = loadConfig({ ...base, DB_HOST: 'db.internal', DB_PORT: '6543', DB_NAME: 'chat_app', DB_USER: 'chat', DB_PASSWORD: 'p@ss word/', DB_SSLMODE: 'require' })
  const url = new URL(seed.databaseUrl!)
  t.equal(url.protocol, 'postgres:')
  t.equal(url.hostname, 'db.internal')
  t.equal(url.port, '6543')
  t.equal(url.pathname, '/chat_app')
  t.equal(decodeURIComponent(url.username), 'chat')
  t.equal(decodeURIComponent(url.password), 'p@ss word/', 'the password is escaped and survives')
  t.equal(url.searchParams.get('sslmode'), 'require')

  const minimal = new URL(loadConfig({ ...base, DB_HOST: 'localhost' }).databaseUrl!)
  t.equal(minimal.port, '5432')
  t.equal(minimal.searchParams.get('sslmode'), 'disable')
  t.equal(minimal.password, '')

  t.equal(loadConfig({ ...base, DATABASE_URL: 'postgres://a@x/one', DB_HOST: 'other' }).databaseUrl, 'postgres://a@x/one', 'DATABASE_URL wins over DB_HOST')
  t.equal(loadConfig({ ...base, DB_NAME: 'only-name' }).databaseUrl, undefined, 'DB_* without DB_HOST: embedded')

  throwsNaming(t, { ...base, DB_HOST: 'h', DB_SSLMODE: 'sometimes' }, 'DB_SSLMODE', 'bad sslmode')
  throwsNaming(t, { ...base, DB_HOST: 'h', DB_PORT: 'x' }, 'DB_PORT', 'bad DB_PORT')
  throwsNaming(t, { ...base, DATABASE_URL: 'not a url' }, 'DATABASE_URL', 'not a URL')
  throwsNaming(t, { ...base, DATABASE_URL: 'mysql://u@h/db' }, 'DATABASE_URL', 'not postgres')
})

t.test('sslmode reaches the pg pool with libpq\'s meaning', async t => {
  const ssl = (url: string): unknown => poolConfig(url).ssl
  t.equal(ssl('postgres://u@h/db'), undefined, 'no sslmode: plain')
  t.equal(ssl('postgres://u@h/db?sslmode=disable'), undefined, 'disable: plain')
  t.equal(ssl('postgres://u@h/db?sslmode=prefer'), undefined, 'prefer: plain (pg cannot fall back)')
  t.same(ssl('postgres://u@h/db?sslmode=require'), { rejectUnauthorized: false }, 'require: TLS without checking the certificate')
  t.same(ssl('postgres://u@h/db?sslmode=no-verify'), { rejectUnauthorized: false })
  t.same(ssl('postgres://u@h/db?sslmode=verify-full'), { rejectUnauthorized: true }, 'verify-full: chain and host name')
  const verifyCa = poolConfig('postgres://u@h/db?sslmode=verify-ca').ssl as { rejectUnauthorized: boolean, checkServerIdentity: () => unknown }
  t.equal(verifyCa.rejectUnauthorized, true, 'verify-ca: the chain is checked...')
  t.equal(verifyCa.checkServerIdentity(), undefined, '...but not the host name')
  const config = poolConfig('postgres://u@h:5433/db?sslmode=require&application_name=x')
  t.notMatch(config.connectionString, /sslmode/, 'sslmode is taken out of the string (pg would read require as verify-full)')
  t.match(config.connectionString, /application_name=x/, 'other parameters stay')

  const seed = loadConfig({ ...base, DB_HOST: 'db.internal', DB_SSLMODE: 'verify-full' })
  t.same(poolConfig(seed.databaseUrl!).ssl, { rejectUnauthorized: true }, 'DB_SSLMODE reaches the pool')
  t.same(poolConfig(loadConfig({ ...base, DB_HOST: 'db.internal', DB_SSLMODE: 'require' }).databaseUrl!).ssl, { rejectUnauthorized: false })
  t.equal(poolConfig(loadConfig({ ...base, DB_HOST: 'db.internal' }).databaseUrl!).ssl, undefined, 'DB_SSLMODE defaults to disable')
  t.same(poolConfig(loadConfig({ ...base, DATABASE_URL: 'postgres://u@h/db?sslmode=require' }).databaseUrl!).ssl, { rejectUnauthorized: false },
    '?sslmode= in DATABASE_URL reaches the pool')
})

t.test('TLS_CERT and TLS_KEY: both or neither, readable PEM files that match', async t => {
  const files = selfSignedCertificate(t)
  const tls = loadConfig({ ...base, TLS_CERT: files.cert, TLS_KEY: files.key }).tls
  t.equal(tls?.cert, readFileSync(files.cert, 'utf8'), 'the certificate is read')
  t.equal(tls?.key, readFileSync(files.key, 'utf8'), 'the key is read')

  throwsNaming(t, { ...base, TLS_CERT: files.cert }, 'TLS_KEY', 'the certificate alone names the missing key')
  throwsNaming(t, { ...base, TLS_KEY: files.key }, 'TLS_CERT', 'the key alone names the missing certificate')
  throwsNaming(t, { ...base, TLS_CERT: join(files.cert, '..', 'missing.pem'), TLS_KEY: files.key }, 'TLS_CERT', 'a missing certificate file')
  throwsNaming(t, { ...base, TLS_CERT: files.cert, TLS_KEY: join(files.key, '..', 'missing.pem') }, 'TLS_KEY', 'a missing key file')
  const dir = join(files.cert, '..')
  throwsNaming(t, { ...base, TLS_CERT: dir, TLS_KEY: files.key }, 'TLS_CERT', 'a directory')
  const garbage = join(dir, 'garbage.pem')
  writeFileSync(garbage, 'not a pem file\n')
  throwsNaming(t, { ...base, TLS_CERT: garbage, TLS_KEY: files.key }, 'TLS_CERT', 'not a certificate')
  throwsNaming(t, { ...base, TLS_CERT: files.cert, TLS_KEY: files.cert }, 'TLS_KEY', 'the certificate given as the key')
  await t.test('a key from another certificate', async t => {
    throwsNaming(t, { ...base, TLS_CERT: files.cert, TLS_KEY: selfSignedCertificate(t).key }, 'TLS_KEY', 'a key that does not match')
  })
  if (process.getuid?.() !== 0) {
    const unreadable = join(dir, 'unreadable.pem')
    writeFileSync(unreadable, readFileSync(files.key))
    chmodSync(unreadable, 0o000)
    throwsNaming(t, { ...base, TLS_CERT: files.cert, TLS_KEY: unreadable }, 'TLS_KEY', 'a file the process may not read')
  }
})

t.test('TRUST_PROXY: false, true, or addresses and CIDRs', async t => {
  const trust = (value: string): unknown => loadConfig({ ...base, TRUST_PROXY: value }).trustProxy
  t.equal(trust('false'), false)
  t.equal(trust('true'), true)
  t.equal(trust('TRUE'), true)
  t.same(trust('127.0.0.1'), ['127.0.0.1'])
  t.same(trust('10.0.0.0/8, 192.168.1.1 ,::1,fd00::/8'), ['10.0.0.0/8', '192.168.1.1', '::1', 'fd00::/8'], 'a list, trimmed')
  t.same(trust('loopback,uniquelocal'), ['loopback', 'uniquelocal'], 'proxy-addr\'s names')
  // Fastify 5 ignores hop counts (they cannot tell the proxy from a direct client): refused, not silently dropped.
  for (const value of ['yes please', '10.0.0.0/33', '::1/129', '10.0.0.1/8/1', '300.1.1.1', 'proxy.example.com', '-1', '1', '2']) {
    throwsNaming(t, { ...base, TRUST_PROXY: value }, 'TRUST_PROXY', `TRUST_PROXY=${value}`)
  }
})

t.test('production needs a JWT_SECRET of at least 32 characters', async t => {
  throwsNaming(t, { ...base, ENVIRONMENT: 'production' }, 'JWT_SECRET', 'missing')
  throwsNaming(t, { ...base, ENVIRONMENT: 'production', JWT_SECRET: 'x'.repeat(31) }, 'JWT_SECRET', '31 characters')
  throwsNaming(t, { ...base, NODE_ENV: 'production', JWT_SECRET: 'short' }, 'JWT_SECRET', 'NODE_ENV=production')
  const ok = loadConfig({ ...base, ENVIRONMENT: 'production', JWT_SECRET: SECRET })
  t.equal(ok.environment, 'production')
  t.equal(ok.jwt.secret, SECRET)
  t.equal(ok.corsOrigins, false, 'no CORS origins in production unless configured')
  t.same(loadConfig({ ...base, ENVIRONMENT: 'production', JWT_SECRET: SECRET, CORS_ORIGINS: 'https://a.example, https://b.example' }).corsOrigins,
    ['https://a.example', 'https://b.example'])
  t.equal(ok.wsOrigins, false, 'in production, no page may open a socket unless CORS_ORIGINS names it')
  t.same(loadConfig({ ...base, ENVIRONMENT: 'production', JWT_SECRET: SECRET, CORS_ORIGINS: 'https://a.example' }).wsOrigins, ['https://a.example'])

  const dev = loadConfig({ ...base, JWT_SECRET: 'short' })
  t.equal(dev.jwt.secret, 'short', 'development accepts a short secret')
  t.match(dev.warnings.join('\n'), /JWT_SECRET/, 'with a warning')
  throwsNaming(t, { ...base, ENVIRONMENT: 'staging' }, 'ENVIRONMENT', 'unknown environment')
  throwsNaming(t, { ...base, WS_MAX_SOCKETS_PER_USER: '0' }, 'WS_MAX_SOCKETS_PER_USER', 'no sockets at all')
  throwsNaming(t, { ...base, RATE_LIMIT_WS_FRAMES: 'many' }, 'RATE_LIMIT_WS_FRAMES', 'not a number')
})

t.test('FEED_GAP_WAIT_MS: 150 by default, 1 to 10,000 ms', async t => {
  t.equal(loadConfig({ ...base, FEED_GAP_WAIT_MS: '1' }).feed.gapWaitMs, 1)
  t.equal(loadConfig({ ...base, FEED_GAP_WAIT_MS: '10000' }).feed.gapWaitMs, 10_000)
  for (const value of ['0', '10001', '-5', '0.5', 'soon']) throwsNaming(t, { ...base, FEED_GAP_WAIT_MS: value }, 'FEED_GAP_WAIT_MS', `FEED_GAP_WAIT_MS=${value}`)
})

t.test('AUTH_CACHE_SECONDS: 5 by default, 0 reads every request, bounded', async t => {
  t.equal(loadConfig(base).authCacheMs, 5000)
  t.equal(loadConfig({ ...base, AUTH_CACHE_SECONDS: '0' }).authCacheMs, 0)
  t.equal(loadConfig({ ...base, AUTH_CACHE_SECONDS: '300' }).authCacheMs, 300_000)
  for (const value of ['301', '-1', '2.5', 'soon']) throwsNaming(t, { ...base, AUTH_CACHE_SECONDS: value }, 'AUTH_CACHE_SECONDS', `AUTH_CACHE_SECONDS=${value}`)
})

t.test('JWT_EXPIRES_IN uses the seed\'s syntax', async t => {
  for (const value of ['24h', '15m', '30s', '7d', '500ms']) t.equal(loadConfig({ ...base, JWT_EXPIRES_IN: value }).jwt.expiresIn, value)
  for (const value of ['24', 'forever', '1 day', '-5m', '15M', 'h']) throwsNaming(t, { ...base, JWT_EXPIRES_IN: value }, 'JWT_EXPIRES_IN', `JWT_EXPIRES_IN=${value}`)
})

t.test('BCRYPT_COST is 10..15', async t => {
  t.equal(loadConfig({ ...base, BCRYPT_COST: '10' }).bcryptCost, 10)
  t.equal(loadConfig({ ...base, BCRYPT_COST: '15' }).bcryptCost, 15)
  for (const value of ['9', '16', '4', 'twelve', '12.5']) throwsNaming(t, { ...base, BCRYPT_COST: value }, 'BCRYPT_COST', `BCRYPT_COST=${value}`)
})

t.test('other variables are validated too', async t => {
  t.equal(loadConfig({ ...base, RATE_LIMIT_ENABLED: 'false' }).rateLimit.enabled, false)
  t.match(loadConfig({ ...base, RATE_LIMIT_ENABLED: 'false' }).warnings.join('\n'), /RATE_LIMIT_ENABLED/)
  t.equal(loadConfig({ ...base, RATE_LIMIT_ENABLED: 'TRUE' }).rateLimit.enabled, true)
  throwsNaming(t, { ...base, RATE_LIMIT_ENABLED: 'maybe' }, 'RATE_LIMIT_ENABLED', 'not a boolean')
  throwsNaming(t, { ...base, RATE_LIMIT_MESSAGES: '0' }, 'RATE_LIMIT_MESSAGES', 'a zero limit')
  t.equal(loadConfig({ ...base, RATE_LIMIT_LOGIN: '5' }).rateLimit.login, 5)
  t.equal(loadConfig({ ...base, RATE_LIMIT_ROOMS: '3' }).rateLimit.rooms, 3)
  throwsNaming(t, { ...base, RATE_LIMIT_ROOMS: 'many' }, 'RATE_LIMIT_ROOMS', 'not a number')
  throwsNaming(t, { ...base, LOG_LEVEL: 'loud' }, 'LOG_LEVEL', 'unknown log level')
  t.equal(loadConfig({ ...base, LOG_LEVEL: 'debug' }).logLevel, 'debug')
  throwsNaming(t, { ...base, REDIS_URL: 'http://cache' }, 'REDIS_URL', 'not redis://')
  t.equal(loadConfig({ ...base, REDIS_URL: 'redis://127.0.0.1:6379' }).redisUrl, 'redis://127.0.0.1:6379')
  t.equal(loadConfig({ ...base, HOST: '127.0.0.1' }).host, '127.0.0.1')
  t.equal(loadConfig({ ...base, PORT: '   ' }).port, 8080, 'a blank value counts as unset')
})

t.test('HTTP timeouts: defaults, bounds, and headers within the request\'s deadline', async t => {
  t.same(loadConfig(base).timeouts, { headersMs: 10_000, requestMs: 30_000, connectionMs: 60_000, keepAliveMs: 72_000 })
  t.same(loadConfig({ ...base, HEADERS_TIMEOUT_SECONDS: '5', REQUEST_TIMEOUT_SECONDS: '5', CONNECTION_TIMEOUT_SECONDS: '120', KEEP_ALIVE_TIMEOUT_SECONDS: '65' }).timeouts,
    { headersMs: 5000, requestMs: 5000, connectionMs: 120_000, keepAliveMs: 65_000 })
  for (const name of ['HEADERS_TIMEOUT_SECONDS', 'REQUEST_TIMEOUT_SECONDS', 'CONNECTION_TIMEOUT_SECONDS', 'KEEP_ALIVE_TIMEOUT_SECONDS']) {
    for (const value of ['0', '-1', '2.5', 'soon', '3601']) throwsNaming(t, { ...base, [name]: value }, name, `${name}=${value}`)
  }
  throwsNaming(t, { ...base, HEADERS_TIMEOUT_SECONDS: '40' }, 'HEADERS_TIMEOUT_SECONDS', 'headers allowed longer than the whole request')
})

t.test('METRICS_TOKEN: open in development without it, absent in production without it, at least 16 characters', async t => {
  const token = 'a-metrics-token-0123456789'
  t.same(loadConfig(base).metrics, { enabled: true, token: undefined }, 'development: open')
  t.same(loadConfig({ ...base, METRICS_TOKEN: token }).metrics, { enabled: true, token }, 'development with a token: behind it')
  const production = { JWT_SECRET: SECRET, ENVIRONMENT: 'production', DATA_DIR: 'memory://' }
  t.same(loadConfig(production).metrics, { enabled: false, token: undefined }, 'production: off')
  t.same(loadConfig({ ...production, METRICS_TOKEN: token }).metrics, { enabled: true, token }, 'production with a token: behind it')
  for (const value of ['short', '0123456789abcde', 'sixteen chars ok', 'tab\tinside-the-token']) {
    throwsNaming(t, { ...base, METRICS_TOKEN: value }, 'METRICS_TOKEN', `METRICS_TOKEN=${JSON.stringify(value)}`)
  }
  let message = ''
  try {
    loadConfig({ ...base, METRICS_TOKEN: 'secret-but-s' })
  } catch (err) {
    message = (err as Error).message
  }
  t.match(message, /^METRICS_TOKEN /, 'a short token is refused')
  t.notMatch(message, /secret-but-s/, 'the refused value is not echoed (it is a secret)')
})

t.test('logs: pretty only in development with stdout on a terminal; JSON otherwise', async t => {
  const production = { JWT_SECRET: SECRET, ENVIRONMENT: 'production', DATA_DIR: 'memory://' }
  t.equal(loadConfig(base, { stdoutIsTTY: true }).logPretty, true, 'development on a terminal: pretty')
  t.equal(loadConfig(base, { stdoutIsTTY: false }).logPretty, false, 'development into a pipe or file: JSON')
  t.equal(loadConfig(production, { stdoutIsTTY: true }).logPretty, false, 'production on a terminal: JSON')
  t.equal(loadConfig(production, { stdoutIsTTY: false }).logPretty, false, 'production into a pipe: JSON')
  t.equal(loadConfig({ ...base, NODE_ENV: 'test' }, { stdoutIsTTY: true }).logPretty, true, 'NODE_ENV=test counts as development')
  t.equal(loadConfig(base).logPretty, process.stdout.isTTY === true, 'by default, the process\'s own stdout decides')
})

t.test('ROLLUP_INTERVAL_MS: 10 s by default, 0 turns the timer off, anything else from 100 ms', async t => {
  t.equal(loadConfig(base).rollupIntervalMs, 10_000, 'default')
  t.equal(loadConfig({ ...base, ROLLUP_INTERVAL_MS: '0' }).rollupIntervalMs, 0, 'off')
  t.equal(loadConfig({ ...base, ROLLUP_INTERVAL_MS: '250' }).rollupIntervalMs, 250, 'set')
  for (const value of ['50', '-1', '1.5', 'soon', '86400001']) {
    throwsNaming(t, { ...base, ROLLUP_INTERVAL_MS: value }, 'ROLLUP_INTERVAL_MS', `ROLLUP_INTERVAL_MS=${value}`)
  }
})

t.test('SEARCH_LANGUAGE: english by default, a configuration name or refused', async t => {
  t.equal(loadConfig(base).search.language, 'english')
  t.equal(loadConfig({ ...base, SEARCH_LANGUAGE: 'german' }).search.language, 'german')
  for (const value of ['English', 'pg_catalog.english', "english'; drop", 'x'.repeat(64)]) throwsNaming(t, { ...base, SEARCH_LANGUAGE: value }, 'SEARCH_LANGUAGE', `SEARCH_LANGUAGE=${value}`)
})
