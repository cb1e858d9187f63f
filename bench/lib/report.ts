/** One line of the table. */
export interface Row {
  scenario: string
  /** What is measured, with its unit. */
  metric: string
  ours: number | null
  baseline: number | null
  /** ours / baseline */
  ratio: number | null
  /** e.g. "ratio ≥ 0.90" or "≤ 40 KB" */
  target: string
  pass: boolean | null
  /** Why there is no figure, or what to know about it. */
  note?: string
}

export interface Check {
  /** Judge the ratio, or our figure itself. */
  on: 'ratio' | 'ours'
  op: '>=' | '<='
  value: number
}

function judge (check: Check | undefined, ours: number | null, ratio: number | null): boolean | null {
  if (check === undefined) return null
  const x = check.on === 'ratio' ? ratio : ours
  if (x === null || !Number.isFinite(x)) return false
  return check.op === '>=' ? x >= check.value : x <= check.value
}

function describe (check: Check | undefined, unit: string): string {
  if (check === undefined) return '—'
  const op = check.op === '>=' ? '≥' : '≤'
  return check.on === 'ratio' ? `ratio ${op} ${check.value.toFixed(2)}` : `${op} ${check.value} ${unit}`.trim()
}

export function row (scenario: string, metric: string, unit: string, ours: number | null, baseline: number | null, check?: Check, note?: string): Row {
  const ratio = ours !== null && baseline !== null && baseline !== 0 ? ours / baseline : null
  return { scenario, metric, ours, baseline, ratio, target: describe(check, unit), pass: judge(check, ours, ratio), note }
}

export function skipped (scenario: string, metric: string, note: string): Row {
  return { scenario, metric, ours: null, baseline: null, ratio: null, target: '—', pass: null, note }
}

function num (x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '—'
  if (Math.abs(x) >= 100) return Math.round(x).toLocaleString('en-US')
  if (Math.abs(x) >= 10) return x.toFixed(1)
  return x.toFixed(2)
}

/** The table as text; in quick mode the verdicts are shown in parentheses (not judged). */
export function format (rows: Row[], quick: boolean): string {
  const head = ['Scenario', 'Metric', 'Ours', 'Baseline', 'Ratio', 'Target', quick ? 'Result (quick: not judged)' : 'Result']
  const lines = rows.map(r => {
    let result = r.pass === null ? (r.note !== undefined && r.ours === null ? 'skipped' : '—') : r.pass ? 'pass' : 'FAIL'
    if (quick && r.pass !== null) result = `(${result.toLowerCase()})`
    return [r.scenario, r.metric, num(r.ours), num(r.baseline), r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`, r.target, result]
  })
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map(l => l[i]!.length)))
  const fmt = (cells: string[]): string => '| ' + cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ') + ' |'
  const out = [fmt(head), '|' + widths.map(w => '-'.repeat(w + 2)).join('|') + '|', ...lines.map(fmt)]
  const notes = rows.filter(r => r.note !== undefined).map(r => `  ${r.scenario} ${r.metric}: ${r.note}`)
  if (notes.length > 0) out.push('', 'Notes:', ...notes)
  return out.join('\n')
}
