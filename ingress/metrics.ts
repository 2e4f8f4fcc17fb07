/**
 * A small Prometheus text-format registry for `GET /metrics`: counters and latency histograms,
 * with no dependency and no global state (each app instance owns one, so tests stay isolated).
 */
type Labels = Record<string, string>;

const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map(
      (name) => `${name}="${String(labels[name]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`,
    )
    .join(',');
}

export class MetricsRegistry {
  private readonly counters = new Map<string, { help: string; values: Map<string, number> }>();
  private readonly histograms = new Map<
    string,
    { help: string; series: Map<string, { buckets: number[]; sum: number; count: number }> }
  >();

  inc(name: string, help: string, labels: Labels = {}, by = 1): void {
    let counter = this.counters.get(name);
    if (!counter) this.counters.set(name, (counter = { help, values: new Map() }));
    const key = labelKey(labels);
    counter.values.set(key, (counter.values.get(key) ?? 0) + by);
  }

  observe(name: string, help: string, labels: Labels, seconds: number): void {
    let histogram = this.histograms.get(name);
    if (!histogram) this.histograms.set(name, (histogram = { help, series: new Map() }));
    const key = labelKey(labels);
    let series = histogram.series.get(key);
    if (!series)
      histogram.series.set(key, (series = { buckets: LATENCY_BUCKETS_SECONDS.map(() => 0), sum: 0, count: 0 }));
    LATENCY_BUCKETS_SECONDS.forEach((bound, i) => {
      if (seconds <= bound) series.buckets[i]! += 1;
    });
    series.sum += seconds;
    series.count += 1;
  }

  render(): string {
    const lines: string[] = [];
    for (const [name, { help, values }] of this.counters) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
      for (const [key, value] of values) lines.push(`${name}${key ? `{${key}}` : ''} ${value}`);
    }
    for (const [name, { help, series }] of this.histograms) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
      for (const [key, { buckets, sum, count }] of series) {
        const prefix = key ? `${key},` : '';
        LATENCY_BUCKETS_SECONDS.forEach((bound, i) =>
          lines.push(`${name}_bucket{${prefix}le="${bound}"} ${buckets[i]}`),
        );
        lines.push(`${name}_bucket{${prefix}le="+Inf"} ${count}`);
        lines.push(`${name}_sum${key ? `{${key}}` : ''} ${sum}`, `${name}_count${key ? `{${key}}` : ''} ${count}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }
}
