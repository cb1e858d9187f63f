/**
 * A preload for the soak only (`node --expose-gc --import tsx --import ./bench/lib/memory-report.ts
 * scripts/start.mjs`: tsx for this file only, the server is the compiled one): when the soak
 * creates `<SOAK_MEMORY_FILE>.want`, the server collects garbage (with --expose-gc) and writes
 * its process.memoryUsage() as JSON to SOAK_MEMORY_FILE. The server itself gets no debug endpoint.
 * (Not a signal: close-with-grace shuts down on SIGUSR2 too.)
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs'

const file = process.env.SOAK_MEMORY_FILE
if (file !== undefined && file !== '') {
  const want = `${file}.want`
  setInterval(() => {
    if (!existsSync(want)) return
    rmSync(want, { force: true })
    const gc = (globalThis as { gc?: () => void }).gc
    gc?.()
    writeFileSync(file, JSON.stringify({ at: Date.now(), gc: gc !== undefined, ...process.memoryUsage() }))
  }, 250).unref()
}
