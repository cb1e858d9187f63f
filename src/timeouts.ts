/**
 * The promise's value, or `fallback` once `ms` have passed without one (the timer is cleared
 * either way). For waits that must not hold start-up or a health check: a Redis connection, a
 * database ping.
 */
export async function withTimeout<T, F> (promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<F>(resolve => { timer = setTimeout(resolve, ms, fallback) })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}
