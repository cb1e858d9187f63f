// scripts/build.mjs `bundleServer` on a small project of its own in a temp folder: a CommonJS
// package in its node_modules, and a "server" that takes it by a dynamic import(), each way.
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { bundleServer } from '../scripts/build.mjs'
import { tempDir } from './server-process.js'

/** A project whose compiled server (`out/src/server.js`) is `server`, beside a CommonJS package `cjs-pkg` exporting `Thing`. */
function project (t: Test, server: string): { base: string, out: string } {
  const base = tempDir(t, 'chat-build-')
  const pkg = join(base, 'node_modules', 'cjs-pkg')
  mkdirSync(pkg, { recursive: true })
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'cjs-pkg', version: '1.0.0', main: 'index.js' }))
  writeFileSync(join(pkg, 'index.js'), "class Thing { static kind = 'thing' }\nmodule.exports = { Thing }\n")
  const out = join(base, 'out')
  mkdirSync(join(out, 'src'), { recursive: true })
  writeFileSync(join(out, 'src', 'server.js'), server)
  return { base, out }
}

/** What the bundle prints when node runs it. */
function runBundle (out: string): string {
  const ran = spawnSync(process.execPath, [join(out, 'bundle', 'server.js')], { encoding: 'utf8' })
  if (ran.status !== 0) throw new Error(`the bundle exited ${ran.status}: ${ran.stderr}`)
  return ran.stdout.trim()
}

t.test('why: inside esbuild\'s bundle a dynamic import() of a CommonJS package has only default, while unbundled node has its named exports too', async t => {
  const { base, out } = project(t, "const { Thing } = await import('cjs-pkg')\nconsole.log(String(Thing?.kind))\n")
  const unbundled = spawnSync(process.execPath, [join(out, 'src', 'server.js')], { encoding: 'utf8' })
  t.equal(unbundled.stdout.trim(), 'thing', 'node itself finds the named export')
  const esbuild = await import('esbuild')
  await esbuild.build({ absWorkingDir: base, entryPoints: { server: join(out, 'src', 'server.js') }, outdir: join(out, 'bundle'), bundle: true, splitting: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'silent' })
  t.equal(runBundle(out), 'undefined', 'the same code bundled: the named export is undefined (what broke the metrics plugin in npm start only)')
})

t.test('the server\'s bundle is refused where our code takes a CommonJS package\'s named export from import(): the error names the file and the package', async t => {
  const { base, out } = project(t, "const { Thing } = await import('cjs-pkg')\nconsole.log(Thing.kind)\n")
  await t.rejects(bundleServer(base, out), { message: "src/server.js takes the CommonJS package cjs-pkg by import() without its default: write (await import('cjs-pkg')).default" })
})

t.test('each accepted way of taking the default builds, and the bundle finds the export', async t => {
  const ways = {
    'member .default': "const { Thing } = (await import('cjs-pkg')).default\nconsole.log(Thing.kind)\n",
    '{ default: x } =': "const { default: pkg } = await import('cjs-pkg')\nconsole.log(pkg.Thing.kind)\n",
    '.then(({ default })': "await import('cjs-pkg').then(({ default: { Thing } }) => { console.log(Thing.kind) })\n"
  }
  for (const [way, server] of Object.entries(ways)) {
    const { base, out } = project(t, server)
    await bundleServer(base, out)
    t.equal(runBundle(out), 'thing', way)
  }
})
