// Reading GET /metrics as a scraper does: Prometheus's text format parsed by a third-party parser
// (parse-prometheus-text-format, prom2json's output shape), never by our own code.
import type { FastifyInstance } from 'fastify'
import parsePrometheusTextFormat, { type MetricFamily, type Sample } from 'parse-prometheus-text-format'

export interface HistogramSeries { count: number, sum: number, buckets: Record<string, number> }

export class Scrape {
  /** Every family with its TYPE and HELP, as the parser reads the document. */
  readonly families: Map<string, MetricFamily>
  /** Every sample line by its own name (`x_bucket`, `x_count`, `x_sum` included), labels intact. */
  private readonly lines: Map<string, Sample[]>

  constructor (readonly text: string) {
    this.families = new Map(parsePrometheusTextFormat(text).map(family => [family.name, family]))
    // The parser folds a histogram's series into one and drops their labels (it only handles
    // unlabelled histograms). Without the TYPE line it reads `_bucket`, `_count` and `_sum` as
    // plain samples, each with its labels (one run of lines per series): histograms are read from those.
    this.lines = new Map()
    for (const run of parsePrometheusTextFormat(text.replace(/^# TYPE (\S+) histogram$/gm, ''))) {
      this.lines.set(run.name, [...(this.lines.get(run.name) ?? []), ...run.metrics])
    }
  }

  family (name: string): MetricFamily | undefined {
    return this.families.get(name)
  }

  /** The sample lines named `name` whose labels include `labels`. */
  samples (name: string, labels: Record<string, string> = {}): Sample[] {
    return (this.lines.get(name) ?? []).filter(sample =>
      Object.entries(labels).every(([key, value]) => sample.labels?.[key] === value))
  }

  /** A counter's or gauge's value for exactly one matching series; 0 when the series does not exist yet. */
  value (name: string, labels: Record<string, string> = {}): number {
    const found = this.samples(name, labels)
    if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} series match`)
    return found.length === 0 ? 0 : Number(found[0]!.value)
  }

  /** One histogram series (exactly one must match); all zero when it does not exist yet. */
  histogram (name: string, labels: Record<string, string> = {}): HistogramSeries {
    const counts = this.samples(`${name}_count`, labels)
    if (counts.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${counts.length} series match`)
    const buckets: Record<string, number> = {}
    for (const bucket of this.samples(`${name}_bucket`, labels)) buckets[bucket.labels!.le!] = Number(bucket.value)
    return { count: Number(counts[0]?.value ?? 0), sum: Number(this.samples(`${name}_sum`, labels)[0]?.value ?? 0), buckets }
  }

  /** A histogram series' observation count. */
  count (name: string, labels: Record<string, string> = {}): number {
    return this.histogram(name, labels).count
  }

  /** The values one label takes across a histogram's series. */
  labelValues (name: string, label: string): string[] {
    return [...new Set(this.samples(`${name}_count`).map(sample => sample.labels?.[label] ?? ''))]
  }
}

/** GET /metrics through the app; throws unless it answers 200. */
export async function scrape (app: FastifyInstance, headers: Record<string, string> = {}): Promise<Scrape> {
  const response = await app.inject({ url: '/metrics', headers })
  if (response.statusCode !== 200) throw new Error(`GET /metrics answered ${response.statusCode}: ${response.body.slice(0, 200)}`)
  return new Scrape(response.body)
}
