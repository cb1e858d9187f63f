import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { join, resolve } from 'node:path'
import dotenv from 'dotenv'

/**
 * The whole configuration, read once from the environment (and `.env`), validated, typed.
 * No other module reads process.env.
 */
export interface Config {
  host: string
  port: number
  environment: 'development' | 'production'
  logLevel: string
  /** Human-readable logs (pino-pretty): development with stdout on a terminal only; JSON lines otherwise. */
  logPretty: boolean
  /** A PostgreSQL connection string, or undefined for the embedded engine. */
  databaseUrl: string | undefined
  /** Where the embedded engine keeps its files; `memory://` keeps nothing. */
  dataDir: string
  jwt: { secret: string, expiresIn: string, issuer: string, audience: string }
  /** How long (ms) a user's auth state (token version, disabled, role) is reused between database reads; 0 reads it every request. */
  authCacheMs: number
  /** MESSAGE_EDIT_WINDOW: how long (ms) after sending a message may be edited; 0: no limit. */
  messages: { editWindowMs: number }
  /**
   * SEARCH_LANGUAGE: the text search configuration that parses and stems search queries
   * (`websearch_to_tsquery`); checked against the database's at start-up. Stored messages are
   * indexed with `english` (db/migrations/0012_search.ts): another language needs a migration too.
   */
  search: { language: string }
  bcryptCost: number
  corsOrigins: string[] | true | false
  /**
   * Which browser pages may open a WebSocket (their Origin header): any (true), none (false), or
   * these origins. Clients without an Origin header are not browsers and are not checked. Any in
   * development; in production the CORS_ORIGINS list.
   */
  wsOrigins: string[] | boolean
  redisUrl: string | undefined
  /**
   * The deployment, named by its database: instances that share it share Redis channels, presence
   * and rate-limit counters. Host, port and name of a server (never its password), or the
   * embedded engine's directory.
   */
  scope: string
  /** HTTPS (and WSS) served directly: the PEM certificate chain and private key; undefined: plain HTTP. */
  tls: { cert: string, key: string } | undefined
  /** Fastify's `trustProxy`: false (the socket address only), true (any sender), or proxy addresses/CIDRs. */
  trustProxy: boolean | string[]
  rateLimit: {
    enabled: boolean
    /** registrations per hour per client address */
    register: number
    /** login attempts per minute per client address */
    login: number
    /** message sends per 10 seconds per user, REST and WebSocket together */
    messages: number
    /** every request but the health checks, refused ones included, per minute per user (or address without a valid token) */
    global: number
    /** rooms created per hour per user */
    rooms: number
    /** attachment uploads per hour per user */
    uploads: number
    /** WebSocket frames per minute per user (a `sync` costs more, by its rooms and rows); a burst of 6 seconds' worth is allowed */
    wsFrames: number
  }
  /**
   * Attachments: uploads of at most `maxUploadBytes` (MAX_UPLOAD_BYTES), removed `ttlHours`
   * (UPLOAD_TTL_HOURS) after upload when never attached; kept by `driver` (STORAGE_DRIVER): `disk`,
   * under DATA_DIR/uploads (a temporary directory per app with `memory://`), or `s3`, in `s3.bucket`
   * (S3_BUCKET, S3_REGION, S3_ENDPOINT for an S3-compatible server, S3_FORCE_PATH_STYLE; the
   * credentials S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, else undefined: the AWS SDK's default chain).
   */
  uploads: {
    maxBytes: number
    ttlHours: number
    driver: 'disk' | 's3'
    /** Set when `driver` is `s3`. */
    s3: {
      bucket: string
      region: string
      endpoint: string | undefined
      forcePathStyle: boolean
      credentials: { accessKeyId: string, secretAccessKey: string } | undefined
    } | undefined
  }
  /** WebSocket connection caps, per instance. */
  websocket: {
    maxSocketsPerUser: number
    maxSocketsPerAddress: number
  }
  /**
   * Live order of a room's feed: a frame whose predecessor has not reached this instance waits
   * `gapWaitMs` for it, then the missing frames are read from the database.
   */
  feed: { gapWaitMs: number }
  /**
   * HTTP timeouts, in ms (none applies to a WebSocket once upgraded): the request line and headers
   * must arrive within `headersMs` and the whole request within `requestMs` (else 408 and closed);
   * a connection with no traffic either way for `connectionMs` is closed; an idle keep-alive
   * connection after `keepAliveMs`.
   */
  timeouts: { headersMs: number, requestMs: number, connectionMs: number, keepAliveMs: number }
  /** Load shedding (@fastify/under-pressure): past any limit, requests get 503 with Retry-After. 0 turns a check off. */
  overload: {
    maxEventLoopDelayMs: number
    maxHeapUsedBytes: number
    maxRssBytes: number
  }
  /**
   * `GET /metrics` (Prometheus): `enabled` false (production without METRICS_TOKEN) means no route
   * and no instrumentation; with a `token`, scrapes need `Authorization: Bearer <token>`.
   */
  metrics: { enabled: boolean, token: string | undefined }
  /** ROLLUP_INTERVAL_MS: how often each instance runs the analytics rollup (src/chat/rollup.ts); 0: never on a timer. */
  rollupIntervalMs: number
  /** Warnings to log once the logger exists (e.g. a generated development secret). */
  warnings: string[]
}

export class ConfigError extends Error {
  override name = 'ConfigError'
}

type Env = Record<string, string | undefined>

const DURATION = /^(\d+)(ms|s|m|h|d)$/

function str (env: Env, name: string): string | undefined {
  const value = env[name]?.trim()
  return value === '' ? undefined : value
}

function int (env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name)
  if (raw === undefined) return fallback
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`)
  }
  return Number(raw)
}

function bool (env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name)?.toLowerCase()
  if (raw === undefined) return fallback
  if (['true', '1', 'yes', 'on'].includes(raw)) return true
  if (['false', '0', 'no', 'off'].includes(raw)) return false
  throw new ConfigError(`${name} must be true or false (got "${raw}")`)
}

function databaseUrlFrom (env: Env): string | undefined {
  const url = str(env, 'DATABASE_URL')
  if (url !== undefined) {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new ConfigError('DATABASE_URL must be a URL such as postgres://user:pass@host:5432/db')
    }
    if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
      throw new ConfigError(`DATABASE_URL must start with postgres:// (got "${parsed.protocol}//")`)
    }
    return url
  }
  const host = str(env, 'DB_HOST')
  if (host === undefined) return undefined
  const port = int(env, 'DB_PORT', 5432, 1, 65535)
  const name = str(env, 'DB_NAME') ?? 'chat_app'
  const user = str(env, 'DB_USER') ?? 'postgres'
  const password = env.DB_PASSWORD ?? ''
  const sslmode = str(env, 'DB_SSLMODE') ?? 'disable'
  const modes = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify']
  if (!modes.includes(sslmode)) {
    throw new ConfigError(`DB_SSLMODE must be one of ${modes.join(', ')} (got "${sslmode}")`)
  }
  const auth = password === '' ? encodeURIComponent(user) : `${encodeURIComponent(user)}:${encodeURIComponent(password)}`
  return `postgres://${auth}@${host}:${port}/${encodeURIComponent(name)}?sslmode=${sslmode}`
}

/** What names a database for the instances that share it (see `Config.scope`). */
export function databaseScope (databaseUrl: string | undefined, dataDir: string): string {
  if (databaseUrl === undefined) return `embedded:${dataDir}`
  const url = new URL(databaseUrl)
  return `postgres://${url.hostname}:${url.port || '5432'}${url.pathname}`
}

function pemFile (env: Env, name: string): string {
  const path = str(env, name)!
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`${name} must name a readable PEM file (${(err as NodeJS.ErrnoException).code ?? 'unreadable'}: ${path})`)
  }
}

/** TLS_CERT and TLS_KEY: both or neither; each a readable PEM file, the key matching the certificate. */
function tlsFrom (env: Env): Config['tls'] {
  const hasCert = str(env, 'TLS_CERT') !== undefined
  const hasKey = str(env, 'TLS_KEY') !== undefined
  if (!hasCert && !hasKey) return undefined
  if (!hasKey) throw new ConfigError('TLS_KEY must be set when TLS_CERT is (the private key of the certificate, a PEM file)')
  if (!hasCert) throw new ConfigError('TLS_CERT must be set when TLS_KEY is (the certificate chain, a PEM file)')
  const cert = pemFile(env, 'TLS_CERT')
  const key = pemFile(env, 'TLS_KEY')
  let certificate: X509Certificate
  try {
    certificate = new X509Certificate(cert)
  } catch {
    throw new ConfigError(`TLS_CERT must be a PEM certificate (${str(env, 'TLS_CERT')!} is not one)`)
  }
  let privateKey
  try {
    privateKey = createPrivateKey(key)
  } catch {
    throw new ConfigError(`TLS_KEY must be an unencrypted PEM private key (${str(env, 'TLS_KEY')!} is not one)`)
  }
  if (!certificate.checkPrivateKey(privateKey)) throw new ConfigError('TLS_KEY must be the private key of the certificate in TLS_CERT (they do not match)')
  return { cert, key }
}

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal']

/** TRUST_PROXY: false (default), true, or a comma-separated list of addresses, CIDRs or proxy-addr's names. */
function trustProxyFrom (env: Env): Config['trustProxy'] {
  const raw = str(env, 'TRUST_PROXY')
  if (raw === undefined || raw.toLowerCase() === 'false') return false
  if (raw.toLowerCase() === 'true') return true
  if (/^\d+$/.test(raw)) {
    // Fastify 5 ignores a hop count (it trusts nothing then): a count cannot tell the proxy from a
    // client connecting directly with a forged header. Say so rather than silently trusting nobody.
    throw new ConfigError(`TRUST_PROXY must name the proxy's addresses or CIDRs, not a hop count, which cannot tell the proxy from a direct client (got "${raw}")`)
  }
  const entries = raw.split(',').map(e => e.trim()).filter(Boolean)
  for (const entry of entries) {
    const [address = '', prefix, extra] = entry.split('/')
    const family = isIP(address)
    const prefixOk = prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= (family === 6 ? 128 : 32))
    if (!PROXY_NAMES.includes(entry) && (family === 0 || !prefixOk || extra !== undefined)) {
      throw new ConfigError(`TRUST_PROXY must be true, false, or comma-separated proxy addresses/CIDRs (got "${entry}")`)
    }
  }
  return entries
}

function jwtSecretFrom (env: Env, environment: Config['environment'], dataDir: string, warnings: string[]): string {
  const secret = env.JWT_SECRET
  if (secret !== undefined && secret !== '') {
    if (secret.length < 32) {
      if (environment === 'production') throw new ConfigError('JWT_SECRET must be at least 32 characters in production')
      warnings.push('JWT_SECRET is shorter than 32 characters; production would refuse it')
    }
    return secret
  }
  if (environment === 'production') throw new ConfigError('JWT_SECRET must be set (at least 32 characters) in production')
  // Development: one random secret, generated once and kept beside the data so tokens survive restarts.
  if (dataDir === 'memory://') return randomBytes(32).toString('hex')
  const file = join(dataDir, 'jwt-secret')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  mkdirSync(dataDir, { recursive: true })
  const generated = randomBytes(32).toString('hex')
  writeFileSync(file, generated + '\n', { mode: 0o600 })
  warnings.push(`JWT_SECRET is not set: generated a development secret in ${file}`)
  return generated
}

/**
 * S3_BUCKET (required), S3_REGION (default us-east-1), S3_ENDPOINT (an http(s) URL, for S3-compatible
 * servers), S3_FORCE_PATH_STYLE (default false; most S3-compatible servers need true), and
 * S3_ACCESS_KEY_ID with S3_SECRET_ACCESS_KEY (both or neither: neither is the SDK's default chain).
 */
function s3From (env: Env): NonNullable<Config['uploads']['s3']> {
  const bucket = str(env, 'S3_BUCKET')
  if (bucket === undefined) throw new ConfigError('S3_BUCKET must be set when STORAGE_DRIVER=s3 (the bucket that keeps attachments)')
  // S3's rules for bucket names (3-63 characters: lower-case letters, digits, dots, hyphens).
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError(`S3_BUCKET must be a bucket name of 3-63 lower-case letters, digits, dots and hyphens (got "${bucket}")`)
  }
  const region = str(env, 'S3_REGION') ?? 'us-east-1'
  if (!/^[a-z0-9-]{1,64}$/.test(region)) throw new ConfigError(`S3_REGION must be a region name such as eu-west-1 (got "${region}")`)
  const endpoint = str(env, 'S3_ENDPOINT')
  if (endpoint !== undefined && !/^https?:\/\/[^\s/]+/.test(endpoint)) {
    throw new ConfigError(`S3_ENDPOINT must be an http:// or https:// URL such as http://127.0.0.1:9000 (got "${endpoint}")`)
  }
  const accessKeyId = str(env, 'S3_ACCESS_KEY_ID')
  const secretAccessKey = str(env, 'S3_SECRET_ACCESS_KEY')
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ConfigError('S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together (or neither, for the AWS SDK\'s default credentials)')
  }
  return {
    bucket,
    region,
    endpoint,
    forcePathStyle: bool(env, 'S3_FORCE_PATH_STYLE', false),
    credentials: accessKeyId === undefined || secretAccessKey === undefined ? undefined : { accessKeyId, secretAccessKey }
  }
}

/** MAX_UPLOAD_BYTES (default 10 MiB), UPLOAD_TTL_HOURS (default 24), STORAGE_DRIVER (disk or s3, with the S3_ variables). */
function uploadsFrom (env: Env): Config['uploads'] {
  const driver = (str(env, 'STORAGE_DRIVER') ?? 'disk').toLowerCase()
  if (driver !== 'disk' && driver !== 's3') throw new ConfigError(`STORAGE_DRIVER must be disk or s3 (got "${driver}")`)
  return {
    maxBytes: int(env, 'MAX_UPLOAD_BYTES', 10 * 1024 * 1024, 1, 5 * 1024 * 1024 * 1024),
    ttlHours: int(env, 'UPLOAD_TTL_HOURS', 24, 1, 24 * 365),
    driver,
    s3: driver === 's3' ? s3From(env) : undefined
  }
}

/** What loadConfig reads from the process besides its environment (tests inject it). */
export interface Runtime {
  /** Whether stdout is a terminal (pretty logs in development). */
  stdoutIsTTY: boolean
}

/** METRICS_TOKEN: a bearer secret for scrapers; short ones are refused, as is whitespace (it could not be sent in the header). */
function rollupIntervalFrom (env: Env): number {
  const ms = int(env, 'ROLLUP_INTERVAL_MS', 10_000, 0, 86_400_000)
  if (ms > 0 && ms < 100) throw new ConfigError(`ROLLUP_INTERVAL_MS must be 0 (off) or from 100 to 86400000 (got "${ms}")`)
  return ms
}

function metricsFrom (env: Env, environment: Config['environment']): Config['metrics'] {
  const token = str(env, 'METRICS_TOKEN')
  if (token !== undefined && (token.length < 16 || !/^[\x21-\x7e]+$/.test(token))) {
    throw new ConfigError('METRICS_TOKEN must be at least 16 printable characters without spaces (e.g. openssl rand -hex 32)')
  }
  return { enabled: token !== undefined || environment === 'development', token }
}

/** SEARCH_LANGUAGE: the name of a text search configuration (whether the database has it is checked at start-up). */
function searchLanguageFrom (env: Env): string {
  const language = str(env, 'SEARCH_LANGUAGE') ?? 'english'
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(language)) {
    throw new ConfigError(`SEARCH_LANGUAGE must name a text search configuration such as english, simple or german (got "${language}")`)
  }
  return language
}

/** Reads and validates the configuration; throws ConfigError with one line naming the variable. */
export function loadConfig (env: Env = process.env, runtime: Runtime = { stdoutIsTTY: process.stdout.isTTY === true }): Config {
  const warnings: string[] = []
  const environmentRaw = (str(env, 'ENVIRONMENT') ?? str(env, 'NODE_ENV') ?? 'development').toLowerCase()
  const environment = environmentRaw === 'production' ? 'production' : environmentRaw === 'development' || environmentRaw === 'test' ? 'development' : undefined
  if (environment === undefined) throw new ConfigError(`ENVIRONMENT must be development or production (got "${environmentRaw}")`)

  const port = str(env, 'PORT') !== undefined ? int(env, 'PORT', 8080, 0, 65535) : int(env, 'APP_PORT', 8080, 0, 65535)
  const dataDirRaw = str(env, 'DATA_DIR') ?? './data'
  const dataDir = dataDirRaw === 'memory://' ? dataDirRaw : resolve(dataDirRaw)

  const expiresIn = str(env, 'JWT_EXPIRES_IN') ?? '24h'
  if (!DURATION.test(expiresIn)) throw new ConfigError(`JWT_EXPIRES_IN must be a duration such as 24h or 15m (got "${expiresIn}")`)

  const logLevel = str(env, 'LOG_LEVEL') ?? 'info'
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
  if (!levels.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${levels.join(', ')} (got "${logLevel}")`)

  const originsRaw = str(env, 'CORS_ORIGINS')
  const corsOrigins = originsRaw === undefined
    ? environment === 'development'
    : originsRaw === '*' ? true : originsRaw.split(',').map(o => o.trim()).filter(Boolean)

  const redisUrl = str(env, 'REDIS_URL')
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl)) throw new ConfigError('REDIS_URL must start with redis:// or rediss://')

  const headersTimeout = int(env, 'HEADERS_TIMEOUT_SECONDS', 10, 1, 600)
  const requestTimeout = int(env, 'REQUEST_TIMEOUT_SECONDS', 30, 1, 3600)
  if (headersTimeout > requestTimeout) {
    throw new ConfigError(`HEADERS_TIMEOUT_SECONDS must not be longer than REQUEST_TIMEOUT_SECONDS (got ${headersTimeout} > ${requestTimeout})`)
  }

  const rateLimitEnabled = bool(env, 'RATE_LIMIT_ENABLED', true)
  if (!rateLimitEnabled) warnings.push('RATE_LIMIT_ENABLED=false: rate limits and login lockout are off')

  const databaseUrl = databaseUrlFrom(env)
  return {
    host: str(env, 'HOST') ?? '0.0.0.0',
    port,
    environment,
    logLevel,
    logPretty: environment === 'development' && runtime.stdoutIsTTY,
    databaseUrl,
    dataDir,
    scope: databaseScope(databaseUrl, dataDir),
    jwt: {
      secret: jwtSecretFrom(env, environment, dataDir, warnings),
      expiresIn,
      issuer: str(env, 'JWT_ISSUER') ?? 'chat-app',
      audience: str(env, 'JWT_AUDIENCE') ?? 'chat-app'
    },
    authCacheMs: int(env, 'AUTH_CACHE_SECONDS', 5, 0, 300) * 1000,
    messages: {
      editWindowMs: int(env, 'MESSAGE_EDIT_WINDOW', 0, 0, 10 * 365 * 86_400) * 1000
    },
    search: { language: searchLanguageFrom(env) },
    bcryptCost: int(env, 'BCRYPT_COST', 12, 10, 15),
    corsOrigins,
    wsOrigins: environment === 'development' || corsOrigins,
    redisUrl,
    tls: tlsFrom(env),
    trustProxy: trustProxyFrom(env),
    rateLimit: {
      enabled: rateLimitEnabled,
      register: int(env, 'RATE_LIMIT_REGISTER', 20, 1, 1_000_000),
      login: int(env, 'RATE_LIMIT_LOGIN', 30, 1, 1_000_000),
      messages: int(env, 'RATE_LIMIT_MESSAGES', 30, 1, 1_000_000),
      global: int(env, 'RATE_LIMIT_GLOBAL', 300, 1, 1_000_000),
      rooms: int(env, 'RATE_LIMIT_ROOMS', 20, 1, 1_000_000),
      // At least 120: the burst (6 s worth) must pay for one room's replay (10) and its frame.
      wsFrames: int(env, 'RATE_LIMIT_WS_FRAMES', 600, 120, 10_000_000),
      uploads: int(env, 'RATE_LIMIT_UPLOADS', 30, 1, 1_000_000)
    },
    uploads: uploadsFrom(env),
    websocket: {
      maxSocketsPerUser: int(env, 'WS_MAX_SOCKETS_PER_USER', 20, 1, 100_000),
      maxSocketsPerAddress: int(env, 'WS_MAX_SOCKETS_PER_ADDRESS', 200, 1, 1_000_000)
    },
    feed: {
      gapWaitMs: int(env, 'FEED_GAP_WAIT_MS', 150, 1, 10_000)
    },
    timeouts: {
      headersMs: headersTimeout * 1000,
      requestMs: requestTimeout * 1000,
      connectionMs: int(env, 'CONNECTION_TIMEOUT_SECONDS', 60, 1, 3600) * 1000,
      keepAliveMs: int(env, 'KEEP_ALIVE_TIMEOUT_SECONDS', 72, 1, 3600) * 1000
    },
    overload: {
      maxEventLoopDelayMs: int(env, 'OVERLOAD_MAX_EVENT_LOOP_DELAY_MS', 1000, 0, 60_000),
      maxHeapUsedBytes: int(env, 'OVERLOAD_MAX_HEAP_MB', 0, 0, 1_000_000) * 1024 * 1024,
      maxRssBytes: int(env, 'OVERLOAD_MAX_RSS_MB', 0, 0, 1_000_000) * 1024 * 1024
    },
    metrics: metricsFrom(env, environment),
    rollupIntervalMs: rollupIntervalFrom(env),
    warnings
  }
}

/** Loads `.env` from the working directory when it exists; variables already set win. */
export function loadDotEnv (file = '.env'): void {
  if (existsSync(file)) dotenv.config({ path: file, quiet: true })
}

/**
 * What a command (the server, `npm run admin`) starts with: `.env`, then the environment, read and
 * checked; a bad value prints one line naming the variable and exits 1.
 */
export function loadConfigOrExit (): Config {
  loadDotEnv()
  try {
    return loadConfig()
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    process.stderr.write(`Configuration error: ${err.message}\n`)
    process.exit(1)
  }
}
