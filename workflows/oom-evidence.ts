/**
 * OOM triage's evidence (RB4): what explains the kill, kept before the limit change replaces the
 * pods. Evidence, not remediation: every failure here is a warning on the timeline.
 */
import type { EvidenceRef } from '../activities/evidence';
import type { OomKill } from '../activities/kubernetes';
import type { OomTriageParams } from '../runbooks/oom-triage';
import type { Incident } from './incident';
import { evidence, kubeRead } from './incident/proxies';

/** Killed containers whose previous logs are kept, and how many lines of each. */
const MAX_PREVIOUS_LOGS = 3;
const PREVIOUS_LOG_LINES = 500;
/** The in-pod fetch of the heap profile; the EVIDENCE activity profile leaves room around it. */
const HEAP_PROFILE_TIMEOUT_SECONDS = 300;

/**
 * Evidence leaves the cluster before anything changes: the killed containers' previous logs and a
 * heap profile streamed out of a running pod into the evidence store (EVIDENCE profile), each
 * noted with its size and sha256 and posted to the thread. A failure is a warning, never a stop.
 */
export async function keepEvidence(
  incident: Incident<OomTriageParams>,
  container: string | undefined,
  kills: OomKill[],
): Promise<void> {
  const { namespace } = incident.target;
  const incidentId = incident.id;
  incident.step('keep-evidence', 'Taking the evidence out of the cluster before any change replaces the pods');
  const killed = new Map<string, { pod: string; container: string }>();
  for (const kill of kills) {
    if (kill.pod && kill.container)
      killed.set(`${kill.pod}/${kill.container}`, { pod: kill.pod, container: kill.container });
  }
  for (const { pod, container: name } of [...killed.values()].slice(0, MAX_PREVIOUS_LOGS)) {
    const logs = await incident.tryDiagnostic(`previous logs of ${pod}/${name}`, () =>
      evidence.capturePreviousLogs({ incidentId, namespace, pod, container: name, tailLines: PREVIOUS_LOG_LINES }),
    );
    if (logs) keep(incident, logs);
  }
  // A rehearsal reads logs but does not make a production process dump its heap.
  if (!incident.params.heapProfile || incident.skipsInRehearsal('the heap profile (an exec in a running pod)')) return;
  const pods = await incident.tryDiagnostic('listing pods', () => kubeRead.listDeploymentPods(incident.target));
  const running = pods?.filter((p) => p.phase === 'Running' && p.ready) ?? [];
  // A pod that was OOM-killed and restarted holds the growing heap; any running pod is second best.
  const chosen = running.find((p) => kills.some((k) => k.pod === p.name)) ?? running[0];
  if (!chosen) {
    incident.note('diagnostic', 'Warning: no running pod to take a heap profile from');
    return;
  }
  const profile = await incident.tryDiagnostic('heap profile', () =>
    evidence.captureHeapProfile({
      incidentId,
      namespace,
      pod: chosen.name,
      ...(container ? { container } : {}),
      url: incident.params.heapProfileUrl,
      timeoutSeconds: HEAP_PROFILE_TIMEOUT_SECONDS,
    }),
  );
  if (profile) keep(incident, profile);
}

/** On the timeline with size and sha256 (and a loud note when the cap cut it), and into the thread as a file. */
function keep(incident: Incident<OomTriageParams>, ref: EvidenceRef): void {
  const cut = ref.truncated
    ? ` — CUT at the ${ref.maxBytes}-byte cap: only the first ${ref.bytes} bytes were kept`
    : '';
  const line = `Evidence kept: ${ref.name}, ${ref.bytes} bytes, sha256 ${ref.sha256}${cut} (${ref.source})`;
  incident.note('diagnostic', line, { evidence: ref });
  incident.shareEvidence(ref, line);
}

/** Incidents begun before EVIDENCE_LEAVES_POD: the profile is written in the pod. The exec runs under QUICK (30 s). */
export async function saveHeapProfile(
  incident: Incident<OomTriageParams>,
  container: string | undefined,
  killedPods: string[],
): Promise<void> {
  incident.step('heap-profile', 'Saving a heap profile from a running pod (before any change rolls it)');
  const pods = await incident.tryDiagnostic('listing pods', () => kubeRead.listDeploymentPods(incident.target));
  const running = pods?.filter((p) => p.phase === 'Running' && p.ready) ?? [];
  // A pod that was OOM-killed and restarted holds the growing heap; any running pod is second best.
  const pod = running.find((p) => killedPods.includes(p.name)) ?? running[0];
  if (!pod) {
    incident.note('diagnostic', 'Warning: no running pod to take a heap profile from');
    return;
  }
  const path = `/tmp/firebreak-heap-${incident.id.replace(/[^A-Za-z0-9-]/g, '_')}.prof`;
  // Positional arguments, not interpolation: the URL never reaches the shell as code.
  const script = 'curl -sf -o "$1" "$2" && wc -c < "$1"';
  const command = ['sh', '-c', script, 'heap-profile', path, incident.params.heapProfileUrl];
  const { namespace } = incident.target;
  const result = await incident.tryDiagnostic('heap profile', () =>
    kubeRead.execInPod({ namespace, pod: pod.name, ...(container ? { container } : {}), command, timeoutSeconds: 25 }),
  );
  if (!result) return;
  if (result.exitCode !== 0) {
    const stderr = result.stderr.slice(0, 300);
    incident.note('diagnostic', `Warning: heap profile failed (exit ${result.exitCode}): ${stderr}`);
    return;
  }
  const saved = `Heap profile saved in ${pod.name}:${path} (${result.stdout.trim()} bytes); fetch it with kubectl cp`;
  incident.note('diagnostic', saved, { pod: pod.name, path });
}
