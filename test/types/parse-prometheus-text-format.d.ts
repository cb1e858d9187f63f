// parse-prometheus-text-format ships no types: the shape of its output (prom2json's), as its README documents.
declare module 'parse-prometheus-text-format' {
  export interface Sample {
    labels?: Record<string, string>
    /** Counters, gauges, untyped. */
    value?: string
    /** Histograms: cumulative count per upper bound (`le`), `+Inf` included. */
    buckets?: Record<string, string>
    /** Summaries. */
    quantiles?: Record<string, string>
    count?: string
    sum?: string
  }
  export interface MetricFamily {
    name: string
    help: string
    type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED'
    metrics: Sample[]
  }
  export default function parsePrometheusTextFormat (text: string): MetricFamily[]
}
