// Runs in a worker thread (piscina): bcrypt in pure JavaScript would otherwise stall the event loop.
import bcrypt from 'bcryptjs'

export function hash ({ password, cost }) {
  return bcrypt.hashSync(password, cost)
}

export function verify ({ password, hash }) {
  return bcrypt.compareSync(password, hash)
}
