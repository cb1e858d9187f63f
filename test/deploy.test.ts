// The production start and the deployment files, tested without Docker (no engine exists here):
// compose.yaml's shape read with `yaml`; the Dockerfile checked with dockerfile-utils (the
// validator behind VS Code's Dockerfile support) and its shape read with dockerfile-ast; then what
// the Dockerfile's runtime stage does, done here for real: a production-only install of a copy of
// the sources, the build stage's dist/ and template, the CMD, the HEALTHCHECK command. And
// `npm start`'s promise: a dist/ built from other sources is never run.
import { spawn } from 'node:child_process'
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Copy, DockerfileParser, type Instruction } from 'dockerfile-ast'
import { validate } from 'dockerfile-utils'
import t, { type Test } from 'tap'
import { parse } from 'yaml'
import { templateDir } from '../db/embedded.js'
import { buildState, sourcesHash } from '../scripts/build.mjs'
import { freePort, uniqueEmail } from './helper.js'
import { childEnv, type Server, start, tempDir, terminate, untilHealthy } from './server-process.js'

// A production install (npm ci) and a TypeScript build (tsc) in here, each tens of seconds on a busy
// machine: those two tests run in `npm run test:long` (DEPLOY_INSTALL=1), which CI runs after npm test.
t.setTimeout(600_000)
const installs = process.env.DEPLOY_INSTALL === '1' ? false : 'a production install and a build: set DEPLOY_INSTALL=1 (npm run test:long does)'

const root = fileURLToPath(new URL('..', import.meta.url))
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8')
const JWT_SECRET = 'deploy-test-secret-that-is-at-least-32-characters'

interface Ran { code: number | null, stdout: string, stderr: string }

/** Runs a program to its end, in the given directory, with the environment a child gets here (no tap hooks). */
async function run (command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Ran> {
  const child = spawn(command, args, { cwd, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', chunk => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', chunk => { stderr += chunk })
  const code = await new Promise<number | null>(resolve => child.once('close', resolve))
  return { code, stdout, stderr }
}

const lines = (text: string): string[] => text.split('\n').filter(line => line.trim() !== '')

/** A copy of the repository's files (what a clone, or the image's build context, holds), without node_modules or dist/. */
async function checkout (t: Test): Promise<string> {
  const listed = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], root)
  if (listed.code !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`)
  const dir = join(tempDir(t, 'chat-deploy-'), 'app')
  for (const file of listed.stdout.split('\0').filter(Boolean)) {
    if (!existsSync(join(root, file))) continue // deleted, not yet committed
    mkdirSync(dirname(join(dir, file)), { recursive: true })
    cpSync(join(root, file), join(dir, file))
  }
  return dir
}

/** The instructions of each stage, in order, after its FROM. */
function stages (): Array<{ name: string | null, image: string, instructions: Instruction[] }> {
  const result: Array<{ name: string | null, image: string, instructions: Instruction[] }> = []
  for (const instruction of DockerfileParser.parse(dockerfile).getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const [image = '', , name = null] = instruction.getArguments().map(a => a.getValue())
      result.push({ name, image, instructions: [] })
    } else {
      result.at(-1)?.instructions.push(instruction)
    }
  }
  return result
}

const runtime = stages().at(-1)!
const of = (keyword: string): Instruction[] => runtime.instructions.filter(i => i.getKeyword() === keyword)
/** The runtime stage's CMD, and its HEALTHCHECK's CMD, as the exec-form arrays Docker runs. */
const cmd = JSON.parse(of('CMD').at(-1)?.getArgumentsContent() ?? 'null') as string[] | null
const healthcheckCmd = JSON.parse(/CMD\s+(\[.*\])\s*$/s.exec(of('HEALTHCHECK').at(-1)?.getArgumentsContent() ?? '')?.[1] ?? 'null') as string[] | null

// Both tests below copy dist/ from here: it must be built from these sources.
t.before(async () => {
  const built = await run(process.execPath, ['scripts/build.mjs', '--if-stale'], root)
  if (built.code !== 0) throw new Error(`node scripts/build.mjs --if-stale failed:\n${built.stderr}`)
})

t.test('compose.yaml: postgres, redis and the app, each with a health check; the app starts once both are healthy', async t => {
  const compose = parse(readFileSync(join(root, 'compose.yaml'), 'utf8')) as { services: Record<string, any> }
  const { services } = compose
  t.same(Object.keys(services).sort(), ['app', 'postgres', 'redis'], 'three services')
  for (const [name, service] of Object.entries(services)) {
    const check = service.healthcheck
    t.ok(Array.isArray(check?.test) && ['CMD', 'CMD-SHELL'].includes(check.test[0]) && check.test.length > 1, `${name}: a health check command`)
    for (const key of ['interval', 'timeout']) t.match(check?.[key], /^\d+(ms|s|m)$/, `${name}: healthcheck ${key} is a duration`)
    t.ok(Number.isInteger(check?.retries) && check.retries > 0, `${name}: healthcheck retries`)
  }
  t.match(services.postgres.healthcheck.test.join(' '), /pg_isready/)
  t.match(services.redis.healthcheck.test.join(' '), /redis-cli ping/)
  t.match(services.app.healthcheck.test.join(' '), /\/health\/live/, 'the app: liveness, without the database')

  t.same(services.app.depends_on, { postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } })
  t.equal(services.app.build, '.', 'the app is this repository\'s Dockerfile')

  const env = services.app.environment as Record<string, string | number>
  const pg = services.postgres.environment as Record<string, string>
  t.equal(env.ENVIRONMENT, 'production', 'production')
  t.equal(env.DB_HOST, 'postgres', 'the database is the postgres service')
  t.equal(env.DB_NAME, pg.POSTGRES_DB, 'the database postgres creates')
  t.equal(env.DB_USER, pg.POSTGRES_USER, 'its user')
  t.equal(env.DB_PASSWORD, pg.POSTGRES_PASSWORD, 'its password')
  t.equal(new URL(String(env.REDIS_URL)).hostname, 'redis', 'Redis is the redis service')
  t.match(env.JWT_SECRET, /^\$\{JWT_SECRET:\?.+\}$/, 'no secret ships in the file: compose refuses to start without JWT_SECRET')
  t.same(services.app.ports, ['8080:8080'], 'the port the server listens on by default')
})

t.test('Dockerfile: dockerfile-utils reports no problem (and does report them in a broken copy)', async t => {
  t.same(validate(dockerfile).map(d => `line ${d.range.start.line + 1}: ${d.message}`), [])
  const broken = `${dockerfile}\nUSERR node\nEXPOSE eighty\n`
  t.equal(validate(broken).length, 2, 'the validator is not blind: an unknown instruction and a bad port are reported')
})

t.test('Dockerfile: a build stage, then a runtime stage with production dependencies only, running node as a user that is not root', async t => {
  const all = stages()
  t.ok(all.length >= 2, 'multi-stage')
  for (const { image } of all) {
    const major = Number(/^node:(\d+)/.exec(image)?.[1])
    t.ok(major >= 22 && major % 2 === 0, `${image}: a Node LTS line (22 or later, even)`)
  }
  const build = all[0]!
  t.ok(build.instructions.some(i => i.getKeyword() === 'RUN' && /node scripts\/postinstall\.mjs|npm run build/.test(i.getArgumentsContent() ?? '')), 'the build stage builds dist/')

  const installs = of('RUN').map(i => i.getArgumentsContent() ?? '').filter(c => /\bnpm ci\b/.test(c))
  t.equal(installs.length, 1, 'the runtime stage installs once')
  t.match(installs[0], /--omit=dev/, 'production dependencies only')
  t.notOk(of('RUN').some(i => /\b(tsc|tsx|npm run build)\b/.test(i.getArgumentsContent() ?? '')), 'nothing is built in the runtime stage')
  const copied = (of('COPY') as Copy[]).filter(c => c.getFromFlag()?.getValue() === build.name).map(c => c.getArguments()[0]?.getValue())
  t.ok(copied.includes('/app/dist'), 'dist/ comes from the build stage')
  t.ok(copied.includes('/app/node_modules/.cache/chat-app'), 'and the embedded database template')

  const user = of('USER').at(-1)?.getArgumentsContent()
  t.equal(user, 'node', 'runs as the image\'s node user')
  t.notOk(['root', '0'].includes(String(user).split(':')[0]!), 'not root')
  t.same(cmd, ['node', 'dist/bundle/server.js'], 'node is PID 1 (exec form, no npm, no shell)')
  t.equal(of('ENTRYPOINT').length, 0, 'no entrypoint in front of it')
  t.notMatch(dockerfile, /^\s*(CMD|ENTRYPOINT)\b.*\bnpm\b/m, 'npm is never the command')

  t.equal(of('HEALTHCHECK').length, 1, 'one HEALTHCHECK')
  t.equal(healthcheckCmd?.[0], 'node', 'the health check runs node (the slim image has no curl)')
  t.match(healthcheckCmd?.join(' '), /\/health\/live/, 'on /health/live')

  const env = of('ENV').flatMap(i => i.getArguments().map(a => a.getValue()))
  t.ok(env.includes('DATA_DIR=/data'), 'DATA_DIR=/data')
  t.ok(env.includes('NODE_ENV=production'), 'NODE_ENV=production')
  t.ok(of('RUN').some(i => /chown\s+node(:node)?\s+\/data\b/.test(i.getArgumentsContent() ?? '')), 'DATA_DIR belongs to the node user')
  t.ok(of('VOLUME').some(i => (i.getArgumentsContent() ?? '').includes('/data')), 'DATA_DIR is a volume')
})

t.test('the runtime stage, done here: a production-only install, its CMD serving on the build stage\'s dist/ and template, its HEALTHCHECK command', { skip: installs }, async t => {
  const dir = await checkout(t)
  // The sources with their scripts: a production install must not need a dev dependency (tsx, tsc).
  const install = await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], dir)
  t.equal(install.code, 0, 'npm ci --omit=dev succeeds', { stderr: install.stderr.slice(-2000) })
  t.match(install.stdout, /chat-app: production install \(no TypeScript compiler\): not building/, 'its postinstall builds nothing, and says so')
  t.notOk(existsSync(join(dir, 'node_modules', 'typescript')), 'no typescript installed')
  t.notOk(existsSync(join(dir, 'node_modules', 'tsx')), 'no tsx installed')

  const env = { PORT: String(await freePort()), ENVIRONMENT: 'production', NODE_ENV: 'production', JWT_SECRET, DATA_DIR: join(tempDir(t, 'chat-deploy-data-'), 'data') }
  const missing = await run(process.execPath, ['scripts/start.mjs'], dir, env)
  t.not(missing.code, 0, 'npm start without dist/ exits non-zero')
  t.same(lines(missing.stderr).length, 1, `one line on stderr: ${missing.stderr}`)
  t.match(missing.stderr, /not starting: dist\/ has not been built.*no TypeScript compiler/)

  // What the runtime stage copies from the build stage.
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true })
  cpSync(templateDir, join(dir, 'node_modules', '.cache', 'chat-app', basename(templateDir)), { recursive: true })
  t.equal(buildState(dir), 'fresh', 'that dist/ was built from these sources')

  if (cmd === null || healthcheckCmd === null) throw new Error('the Dockerfile has no CMD or HEALTHCHECK in exec form')
  const server = start(t, env, { cwd: dir, args: cmd.slice(1) })
  await untilHealthy(server)
  // A new DATA_DIR began as a copy of the template: the compiled migrations name it as the build
  // stage did (by their sources' hash). initdb would have given another system identifier.
  const systemId = (dataDir: string): string => readFileSync(join(dataDir, 'global', 'pg_control')).subarray(0, 8).toString('hex')
  t.equal(systemId(env.DATA_DIR), systemId(templateDir), 'the first start used the embedded template')
  const registered = await fetch(`http://127.0.0.1:${server.port}/api/v1/users/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: uniqueEmail('deploy'), password: 'correct horse battery staple', username: 'deploy' })
  })
  t.equal(registered.status, 201, 'a registration (bcrypt in the worker thread copied into dist/) succeeds')

  const healthy = await run(process.execPath, healthcheckCmd.slice(1), dir, { PORT: env.PORT })
  t.equal(healthy.code, 0, 'the HEALTHCHECK command passes on a live server')
  t.equal((await terminate(server)).code, 0, 'SIGTERM to node: exit 0')
  const down = await run(process.execPath, healthcheckCmd.slice(1), dir, { PORT: env.PORT })
  t.equal(down.code, 1, 'and fails once it is gone')

  // A source edited after the build: this install cannot rebuild, so npm start refuses.
  appendFileSync(join(dir, 'src', 'limits.ts'), '\n// edited after the build\n')
  const stale = await run(process.execPath, ['scripts/start.mjs'], dir, env)
  t.not(stale.code, 0, 'npm start on a stale dist/ exits non-zero')
  t.same(lines(stale.stderr).length, 1, `one line on stderr: ${stale.stderr}`)
  t.match(stale.stderr, /not starting: dist\/ was built from other sources than these/)
})

t.test('npm start, where the compiler is installed, builds a stale dist/ first and serves the new build', { skip: installs }, async t => {
  const dir = await checkout(t)
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true })
  appendFileSync(join(dir, 'src', 'limits.ts'), '\nexport const EDITED_AFTER_THE_BUILD = true\n')
  t.equal(buildState(dir), 'dist/ was built from other sources than these', 'the copied dist/ is stale for the edited sources')

  t.equal((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start, 'node scripts/start.mjs',
    'the start script is the launcher the other tests start')
  // `npm start` itself, as a user runs it (in a process group of its own, to stop npm and the server together).
  const port = await freePort()
  const child = spawn('npm', ['start'], { cwd: dir, env: childEnv({ PORT: String(port), DATA_DIR: join(tempDir(t, 'chat-deploy-data-'), 'data') }), stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', chunk => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', chunk => { stderr += chunk })
  const exited = new Promise<number | string>(resolve => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')))
  const stopGroup = (signal: NodeJS.Signals): void => { try { process.kill(-child.pid!, signal) } catch { /* gone */ } }
  t.teardown(async () => { if (child.exitCode === null && child.signalCode === null) { stopGroup('SIGKILL'); await exited } })
  const server: Server = { child, port, stdout: () => stdout, stderr: () => stderr, exited }

  await untilHealthy(server, 480_000)
  t.match(stdout, /chat-app: dist\/ was built from other sources than these; building it first/, 'says why it builds')
  t.match(stdout, /chat-app: built dist\/ in/, 'then builds')
  t.equal(buildState(dir), 'fresh', 'dist/ is fresh afterwards')
  t.equal((JSON.parse(readFileSync(join(dir, 'dist', 'build-info.json'), 'utf8')) as { sources: string }).sources, sourcesHash(dir), 'build-info.json holds the edited sources\' hash')
  t.match(readFileSync(join(dir, 'dist', 'src', 'limits.js'), 'utf8'), /EDITED_AFTER_THE_BUILD/, 'the served build holds the edit')
  stopGroup('SIGTERM')
  await exited
  t.match(stdout, /"msg":"shutting down"/, 'Ctrl-C (SIGTERM to the group) shuts the server down gracefully')
})

t.test('the compiled code and the TypeScript name the same embedded template', async t => {
  const compiled = await run(process.execPath, ['--input-type=module', '-e', "console.log((await import('./dist/db/embedded.js')).templateDir)"], root)
  t.equal(compiled.code, 0, 'dist/db/embedded.js loads', { stderr: compiled.stderr })
  t.equal(compiled.stdout.trim(), templateDir, 'so the template npm ci made serves npm start, the tests and npm run dev alike')
})
