/** RB4 — OOM triage (000 §6.2 "内存OOM", §4.1; 002 case 2). */
import { z } from 'zod';
import { OOM_DISABLE_EXPORT_GATE, RESTORE_GATE } from '../domain/gates';
import { parseMemory } from '../domain/quantity';
import { count, flag, type RunbookDefinition } from './types';

const memory = () => z.string().refine((text) => parseMemory(text) !== undefined, 'a memory quantity such as 2Gi');

const params = z
  .strictObject({
    /** The container to triage; the OOM-killed one (or the first) by default. */
    container: z.string().min(1).max(63).optional(),
    /** `fixed`: set the limit to memoryLimit (the source's 2Gi); `double`: ×2, capped at memoryCap. */
    memoryPolicy: z.enum(['fixed', 'double']).default('fixed'),
    memoryLimit: memory().default('2Gi'),
    memoryCap: memory().default('8Gi'),
    exporterQueueSize: count(1, 1_000_000).default(512),
    /** Ask (behind a gate) whether to disable trace export, the source's extreme case. */
    offerDisableTraceExport: flag().default(true),
    heapProfile: flag().default(true),
    heapProfileUrl: z.url({ protocol: /^https?$/ }).default('http://localhost:6060/debug/pprof/heap'),
    /** Window of the resident-memory trend (002 case 2: > 1 MB/s is a leak). */
    trendWindowSeconds: count(300, 24 * 3600).default(3600),
  })
  .refine((p) => (parseMemory(p.memoryLimit) ?? 0) <= (parseMemory(p.memoryCap) ?? 0), {
    message: 'memoryLimit must not exceed memoryCap',
    path: ['memoryLimit'],
  });

export type OomTriageParams = z.infer<typeof params>;

export const oomTriage = {
  id: 'oom-triage',
  title: 'OOM triage',
  summary:
    'Find OOM kills (container statuses, node events), keep the evidence first (previous logs and a heap profile ' +
    'streamed out of the pod, posted to the thread), raise the memory limit once, shrink the exporter queue, ' +
    'judge the memory trend and offer disabling trace export behind a gate.',
  defaultSeverity: 'P1',
  slashName: 'oom',
  workflowType: 'oomTriageWorkflow',
  multiTarget: false,
  params,
  gates: [OOM_DISABLE_EXPORT_GATE, RESTORE_GATE],
  alertHints: { alertnames: ['^(KubePodOOMKilled|ContainerOOMKilled|OOMKill.*|MemoryLeak)$'] },
} satisfies RunbookDefinition<typeof params>;
