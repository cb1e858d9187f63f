import { readdirSync, readFileSync } from 'node:fs'
import { cpuSeconds } from './proc.js'

/** CPU seconds used so far: by the whole machine, by PostgreSQL (every process named postgres), by this process (the load generator or the bare pg client) and by the chat server. */
export interface CpuTimes { machine: number, postgres: number, bench: number, server: number }

/** user + nice + system + irq + softirq of all cores, from /proc/stat (in ticks of 1/100 s, as /proc/PID/stat). */
function machineSeconds (): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  return (fields[0]! + fields[1]! + fields[2]! + fields[5]! + fields[6]!) / 100
}

/** A process that ended while it was being read counts for nothing. */
function postgresSeconds (): number {
  let seconds = 0
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').startsWith('postgres')) seconds += cpuSeconds(Number(name))
    } catch {
      // Gone.
    }
  }
  return seconds
}

function cpuTimes (serverPid: number | undefined): CpuTimes {
  return { machine: machineSeconds(), postgres: postgresSeconds(), bench: cpuSeconds(process.pid), server: serverPid === undefined ? 0 : cpuSeconds(serverPid) }
}

/**
 * Adds up, over the turns it times, the CPU that each part of the machine spent and the requests
 * answered: where a request's cost goes, when the server, PostgreSQL and the load share the cores.
 * PostgreSQL's figure includes its background processes (checkpointer, autovacuum).
 */
export class CpuMeter {
  private readonly spent: CpuTimes = { machine: 0, postgres: 0, bench: 0, server: 0 }
  private requests = 0

  /** `serverPid`: the chat server's process, when it serves the turns. */
  constructor (private readonly serverPid?: number) {}

  async time<T extends { ok: number }> (turn: () => Promise<T>): Promise<T> {
    const before = cpuTimes(this.serverPid)
    const result = await turn()
    const after = cpuTimes(this.serverPid)
    for (const part of Object.keys(this.spent) as Array<keyof CpuTimes>) this.spent[part] += after[part] - before[part]
    this.requests += result.ok
    return result
  }

  /** Each part's CPU per request answered over the timed turns, in ms. */
  perRequest (): CpuTimes {
    const ms = (seconds: number): number => seconds * 1000 / Math.max(1, this.requests)
    return { machine: ms(this.spent.machine), postgres: ms(this.spent.postgres), bench: ms(this.spent.bench), server: ms(this.spent.server) }
  }
}
