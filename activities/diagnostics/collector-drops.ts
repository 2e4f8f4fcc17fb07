/**
 * Seed 004 chapter 1, check 5: the collector's own counters — refused, dropped, send-failed and
 * enqueue-failed spans, and its sending queues against capacity — asked of Prometheus. The queries
 * are built (collectorDropQueries) and judged (judgeCollectorDrops) apart from the asking, so tests
 * feed the judging objects.
 */
import { iso, promString, regexAlternation } from './prometheus';
import { MESSAGE_CHARS, clip, finding } from './trace-loss-findings';
import type {
  CollectorComponentFigure,
  CollectorDropsInput,
  CollectorDropsReport,
  InstantQueryResult,
  TraceLossFinding,
} from './types';

const MAX_COMPONENTS = 10;

/** The collector's counters, with or without the `_total` suffix (releases differ). */
export const COUNTERS = [
  {
    metric: 'otelcol_receiver_refused_spans',
    kind: 'receiver',
    why: 'receivers refused spans back to their senders (a full queue or memory limiter downstream)',
  },
  {
    metric: 'otelcol_processor_dropped_spans',
    kind: 'processor',
    why: 'processors dropped spans (memory limiter, filters)',
  },
  {
    metric: 'otelcol_exporter_send_failed_spans',
    kind: 'exporter',
    why: 'exporters failed to send spans to the backend (timeouts, refusals)',
  },
  {
    metric: 'otelcol_exporter_enqueue_failed_spans',
    kind: 'exporter',
    why: 'exporters could not queue spans: their sending queue was full',
  },
] as const;

type ComponentKind = 'receiver' | 'processor' | 'exporter';

export interface CollectorQueryResults {
  accepted: InstantQueryResult;
  counters: Record<(typeof COUNTERS)[number]['metric'], InstantQueryResult>;
  queueSize: InstantQueryResult;
  queueCapacity: InstantQueryResult;
}

/** The queries check 5 asks, by name. Exported so a test (or an SRE) sees exactly what is asked. */
export function collectorDropQueries(input: CollectorDropsInput, windowSeconds: number) {
  const base = input.selector?.trim() ? [input.selector.trim()] : [];
  const names: Record<ComponentKind, string[] | undefined> = {
    receiver: input.receivers,
    processor: input.processors,
    exporter: input.exporters,
  };
  const matchers = (kind: ComponentKind) => {
    const list = names[kind];
    return [...base, ...(list?.length ? [`${kind}=~${promString(regexAlternation(list))}`] : [])];
  };
  const w = `${windowSeconds}s`;
  // A counter's rise over the window; a series first seen inside the window (a component whose
  // first failure created it) counts with its whole value, which increase() would miss.
  const rise = (metric: string, kind: ComponentKind) => {
    const sel = [`__name__=~${promString(`${metric}(_total)?`)}`, ...matchers(kind)].join(',');
    return `sum by (${kind}) ((increase({${sel}}[${w}]) and {${sel}} offset ${w}) or {${sel}})`;
  };
  const exporterSel = matchers('exporter').join(',');
  return {
    accepted: rise('otelcol_receiver_accepted_spans', 'receiver'),
    counters: Object.fromEntries(COUNTERS.map((c) => [c.metric, rise(c.metric, c.kind)])) as Record<
      (typeof COUNTERS)[number]['metric'],
      string
    >,
    queueSize: `max by (exporter) (max_over_time(otelcol_exporter_queue_size{${exporterSel}}[${w}]))`,
    queueCapacity: `max by (exporter) (otelcol_exporter_queue_capacity{${exporterSel}})`,
  };
}

/** Check 5 on the query results. Pure. */
export function judgeCollectorDrops(
  results: CollectorQueryResults,
  window: { from: number; to: number; queueFullRatio: number },
): CollectorDropsReport {
  const figures = (result: InstantQueryResult, kind: string, metric: string): CollectorComponentFigure[] =>
    result.series
      .filter((s) => s.value !== null)
      .map((s) => ({ kind, name: s.metric[kind] ?? '?', metric, value: Math.max(0, Math.round(s.value!)) }));
  const total = (list: CollectorComponentFigure[]) => list.reduce((sum, f) => sum + f.value, 0);
  const seconds = Math.round(window.to - window.from);
  const components: CollectorComponentFigure[] = [];
  const findings: TraceLossFinding[] = [];
  let lostSpans = 0;
  for (const counter of COUNTERS) {
    const list = figures(results.counters[counter.metric], counter.kind, counter.metric);
    const sum = total(list);
    lostSpans += sum;
    const culprits = list.filter((f) => f.value > 0).sort((a, b) => b.value - a.value);
    components.push(...culprits);
    const observed = list.length === 0 ? '0 (no series)' : `${sum} in ${seconds}s`;
    findings.push(
      sum > 0
        ? finding(
            'collectorDrops',
            counter.metric,
            'finding',
            observed,
            sum,
            '0',
            `${sum} spans in the last ${seconds}s: ${counter.why} — ${culprits
              .slice(0, 3)
              .map((f) => `${f.kind} ${f.name} ${f.value}`)
              .join(', ')}`,
          )
        : finding('collectorDrops', counter.metric, 'ok', observed, 0, '0', `none in the last ${seconds}s`),
    );
  }
  const capacity = new Map(results.queueCapacity.series.map((s) => [s.metric.exporter ?? '?', s.value ?? 0] as const));
  const queues = results.queueSize.series
    .map((s) => {
      const name = s.metric.exporter ?? '?';
      const cap = capacity.get(name) ?? 0;
      return { name, size: s.value ?? 0, capacity: cap, ratio: cap > 0 ? (s.value ?? 0) / cap : 0 };
    })
    .sort((a, b) => b.ratio - a.ratio);
  const fullest = queues[0];
  const full = queues.filter((q) => q.capacity > 0 && q.ratio >= window.queueFullRatio);
  components.push(
    ...full.map((q) => ({ kind: 'exporter', name: q.name, metric: 'otelcol_exporter_queue_size', value: q.size })),
  );
  const queueSetting = 'otelcol_exporter_queue_size/otelcol_exporter_queue_capacity';
  const recommendedQueue = `< ${Math.round(window.queueFullRatio * 100)}% of capacity`;
  findings.push(
    !fullest || fullest.capacity === 0
      ? finding(
          'collectorDrops',
          queueSetting,
          'ok',
          'no sending queue series',
          null,
          recommendedQueue,
          'no exporter in scope has a sending queue: none can fill',
        )
      : full.length > 0
        ? finding(
            'collectorDrops',
            queueSetting,
            'finding',
            `${fullest.size}/${fullest.capacity} (${fullest.name})`,
            fullest.ratio,
            recommendedQueue,
            `sending queues reached ${full.map((q) => `${q.name} ${q.size}/${q.capacity}`).join(', ')} in the last ${seconds}s: the next spans are refused or dropped (raise sending_queue.queue_size or the backend's capacity)`,
          )
        : finding(
            'collectorDrops',
            queueSetting,
            'ok',
            `${fullest.size}/${fullest.capacity} (${fullest.name})`,
            fullest.ratio,
            recommendedQueue,
            `fullest sending queue ${fullest.name} at ${Math.round(fullest.ratio * 100)}% at most`,
          ),
  );
  const acceptedSpans = total(figures(results.accepted, 'receiver', 'otelcol_receiver_accepted_spans'));
  const noData =
    results.accepted.empty &&
    COUNTERS.every((c) => results.counters[c.metric].empty) &&
    results.queueSize.empty &&
    results.queueCapacity.empty;
  if (noData) {
    for (const f of findings) {
      f.status = 'unknown';
      f.message = 'no collector series match: is the collector’s own telemetry scraped, and the selector right?';
    }
  }
  const wanting = findings.filter((f) => f.status === 'finding');
  const verdict = noData
    ? `no data: no otelcol_* series match in the last ${seconds}s`
    : wanting.length === 0
      ? `the collector lost no spans in the last ${seconds}s (${acceptedSpans} accepted)`
      : `the collector lost ${lostSpans} spans in the last ${seconds}s (${acceptedSpans} accepted): ${wanting.map((f) => f.setting.replace(/^otelcol_/, '')).join(', ')}`;
  return {
    from: iso(window.from),
    to: iso(window.to),
    findings,
    found: wanting.length,
    acceptedSpans,
    lostSpans,
    components: components.sort((a, b) => b.value - a.value).slice(0, MAX_COMPONENTS),
    noData,
    verdict: clip(verdict, MESSAGE_CHARS),
  };
}
