/**
 * What the trace-loss checks (seed 004 chapter 1) share: seed 004's figures, the SDK's defaults, a
 * finding clipped to its bounded size, and reading a container's environment as the kubelet would.
 */
import type { V1Container } from '@kubernetes/client-node';
import type { TraceLossCheck, TraceLossFinding } from './types';

/** Seed 004 chapter 1's figures. */
export const TRACE_LOSS_DEFAULTS = {
  minSamplerRatio: 0.5,
  minQueueSize: 4096,
  maxScheduleDelayMs: 1000,
  maxExportTimeoutMs: 5000,
  queueFullRatio: 0.8,
  windowSeconds: 300,
} as const;

/** The OpenTelemetry SDK's defaults (the environment specification), for a variable left unset. */
export const SDK = {
  sampler: 'parentbased_always_on',
  samplerArg: 1,
  propagators: 'tracecontext,baggage',
  queueSize: 2048,
  scheduleDelayMs: 5000,
  exportTimeoutMs: 30_000,
  batchSize: 512,
  graceSeconds: 30,
} as const;

const OBSERVED_CHARS = 120;
export const MESSAGE_CHARS = 400;

export const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export function finding(
  check: TraceLossCheck,
  setting: string,
  status: TraceLossFinding['status'],
  observed: string,
  value: number | null,
  recommended: string,
  message: string,
): TraceLossFinding {
  return {
    check,
    setting,
    status,
    observed: clip(observed, OBSERVED_CHARS),
    value: value !== null && Number.isFinite(value) ? value : null,
    recommended: clip(recommended, OBSERVED_CHARS),
    message: clip(message, MESSAGE_CHARS),
  };
}

/** What the container's env says of one variable. */
export type EnvValue =
  | { kind: 'set'; value: string }
  | { kind: 'unset' }
  /** Set from a Secret/ConfigMap key, or possibly by an envFrom source: not readable from the spec. */
  | { kind: 'reference'; from: string };

export function envReader(container: V1Container) {
  const env = container.env ?? [];
  const envFrom = (container.envFrom ?? []).map((source) =>
    source.configMapRef ? `ConfigMap ${source.configMapRef.name}` : `Secret ${source.secretRef?.name ?? '?'}`,
  );
  return (name: string): EnvValue => {
    // The last definition wins, as in the kubelet.
    const entry = env.findLast((e) => e.name === name);
    if (entry?.valueFrom) {
      const ref = entry.valueFrom.configMapKeyRef
        ? `ConfigMap ${entry.valueFrom.configMapKeyRef.name}`
        : entry.valueFrom.secretKeyRef
          ? `Secret ${entry.valueFrom.secretKeyRef.name}`
          : 'a field reference';
      return { kind: 'reference', from: ref };
    }
    if (entry) return { kind: 'set', value: entry.value ?? '' };
    if (envFrom.length > 0) return { kind: 'reference', from: `envFrom (${envFrom.join(', ')})` };
    return { kind: 'unset' };
  };
}

export const unreadable = (check: TraceLossCheck, name: string, from: string, recommended: string) =>
  finding(
    check,
    name,
    'unknown',
    `from ${from}`,
    null,
    recommended,
    `${name} comes from ${from}; the pod template does not say its value — read it there`,
  );

/** A whole number ≥ 0 from an env value, as the SDKs parse it; undefined when it is not one. */
export function wholeNumber(text: string): number | undefined {
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
}
