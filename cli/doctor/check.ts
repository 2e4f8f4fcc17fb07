/** A doctor check's result: what was checked, whether it passed, and what to do when it did not. */
export interface CheckResult {
  area: string;
  check: string;
  status: 'ok' | 'fail' | 'skip';
  detail: string;
  /** What to do about a failure. */
  fix?: string;
}

export const ok = (area: string, check: string, detail: string): CheckResult => ({ area, check, status: 'ok', detail });
export const skip = (area: string, check: string, detail: string): CheckResult => ({
  area,
  check,
  status: 'skip',
  detail,
});
export const fail = (area: string, check: string, detail: string, fix: string): CheckResult => ({
  area,
  check,
  status: 'fail',
  detail,
  fix,
});

/** Every probe is bounded: a hung integration reads as failed, never as a hung doctor. */
export const PROBE_TIMEOUT_MS = 5_000;

export function reason(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown; cause?: { code?: unknown } }).cause?.code;
    const first = err.message.split('\n')[0] ?? '';
    return typeof code === 'string' && !first.includes(code) ? `${first} (${code})` : first;
  }
  return String(err);
}
