/**
 * Kubernetes memory quantities and the OOM runbook's raise policy. Pure: used by the oom-triage
 * workflow and by the runbook schema that validates what humans type.
 */

const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** Bytes of a memory quantity such as `512Mi`, `2Gi`, `1G`, `1048576`; undefined when it is not one. */
export function parseMemory(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(text.trim());
  if (!match) return undefined;
  const bytes = Number(match[1]) * UNITS[match[2] ?? '']!;
  return Number.isFinite(bytes) && bytes > 0 ? Math.round(bytes) : undefined;
}

/** The shortest exact binary form, rounded up to whole Mi. */
export function formatMemory(bytes: number): string {
  const mebibytes = Math.ceil(bytes / 1024 ** 2);
  return mebibytes % 1024 === 0 ? `${mebibytes / 1024}Gi` : `${mebibytes}Mi`;
}

export interface MemoryRaisePolicy {
  /** `fixed`: set the limit to `limit` (the source's 2Gi); `double`: ×2 of the current limit, capped at `cap`. */
  mode: 'fixed' | 'double';
  limit: string;
  cap: string;
}

/**
 * The new limit, or why not to raise. Never lowers a limit and never exceeds the cap, so a raise
 * cannot feed on itself; the runbook applies it at most once per incident.
 */
export function nextMemoryLimit(
  current: string | null,
  policy: MemoryRaisePolicy,
): { limit: string } | { skip: string } {
  const cap = parseMemory(policy.cap);
  if (cap === undefined) return { skip: `the memory cap ${policy.cap} is not a quantity` };
  const currentBytes = current === null ? undefined : parseMemory(current);
  if (current !== null && currentBytes === undefined) return { skip: `the current limit ${current} is not a quantity` };
  let wanted: number;
  if (policy.mode === 'fixed') {
    const fixed = parseMemory(policy.limit);
    if (fixed === undefined) return { skip: `the memory limit ${policy.limit} is not a quantity` };
    wanted = Math.min(fixed, cap);
  } else {
    if (currentBytes === undefined) return { skip: 'the container has no memory limit to double' };
    wanted = Math.min(currentBytes * 2, cap);
  }
  if (currentBytes !== undefined && wanted <= currentBytes) {
    return { skip: `the limit is already ${current}, at or above ${formatMemory(wanted)}` };
  }
  return { limit: formatMemory(wanted) };
}
