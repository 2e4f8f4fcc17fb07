/**
 * The default routing table: what a team gets when it points Alertmanager at Firebreak and writes
 * no rules. It covers the kubernetes-mixin's workload alerts (alerts/apps_alerts.libsonnet) and the
 * usual OOM-kill rules on kube-state-metrics' `kube_pod_container_status_last_terminated_reason`.
 * Pod alerts carry `namespace`, `pod`, `container`; the pod is followed to its Deployment
 * (ingress/kubernetes/owners.ts). Rules in the config file's `routes` come first; `defaultRoutes:
 * false` turns this table off. docs/alert-routing.md shows it as a table (a test keeps the two equal).
 *
 * Severity: the mixin labels these alerts `warning`; critical → P1, warning → P2, info → P3, and an
 * alert without the label is P2. No default opens a P0: a P0 p0-response restarts without asking
 * (`p0RestartWithoutApproval`), and that is a decision for a rule a team writes, not a default.
 * Entries are in the config file's own syntax and go through its schema when this module loads.
 */
import { z } from 'zod';
import { routeRuleSchema, type RouteRule } from '../../config/routes';

const BY_SEVERITY_LABEL = { label: 'severity', map: { critical: 'P1', warning: 'P2', info: 'P3' }, default: 'P2' };

/** Waiting reasons a new image or config causes, which a rollback undoes and a restart does not. */
const BAD_ROLLOUT_WAITING = 'ImagePullBackOff|ErrImagePull|InvalidImageName|CreateContainerConfigError';

const DEFAULT_ROUTE_SOURCE = [
  {
    name: 'default: OOM kill',
    // KubernetesContainerOomKiller: awesome-prometheus-alerts; the others: common hand-written names.
    match: { alertname: '~KubernetesContainerOomKiller|KubePodOOMKilled|ContainerOOMKilled|PodOOMKilled' },
    runbook: 'oom-triage',
    severity: BY_SEVERITY_LABEL,
    params: { container: { label: 'container' } },
  },
  {
    name: 'default: OOMKilled reason',
    // Any rule over kube_pod_container_status_last_terminated_reason{reason="OOMKilled"} keeps the label.
    match: { reason: 'OOMKilled' },
    runbook: 'oom-triage',
    severity: BY_SEVERITY_LABEL,
    params: { container: { label: 'container' } },
  },
  {
    name: 'default: KubePodCrashLooping',
    match: { alertname: 'KubePodCrashLooping' },
    runbook: 'p0-response',
    severity: BY_SEVERITY_LABEL,
  },
  {
    name: 'default: KubePodNotReady',
    match: { alertname: 'KubePodNotReady' },
    runbook: 'p0-response',
    severity: BY_SEVERITY_LABEL,
  },
  {
    name: 'default: KubeContainerWaiting (bad image or config)',
    match: { alertname: 'KubeContainerWaiting', reason: `~${BAD_ROLLOUT_WAITING}` },
    runbook: 'emergency-rollback',
    severity: BY_SEVERITY_LABEL,
  },
  {
    name: 'default: KubeContainerWaiting',
    match: { alertname: 'KubeContainerWaiting' },
    runbook: 'p0-response',
    severity: BY_SEVERITY_LABEL,
  },
  {
    name: 'default: KubeDeploymentReplicasMismatch',
    match: { alertname: 'KubeDeploymentReplicasMismatch' },
    runbook: 'p0-response',
    severity: BY_SEVERITY_LABEL,
  },
  {
    name: 'default: KubeDeploymentRolloutStuck',
    match: { alertname: 'KubeDeploymentRolloutStuck' },
    runbook: 'emergency-rollback',
    severity: BY_SEVERITY_LABEL,
  },
  {
    name: 'default: KubeDeploymentGenerationMismatch',
    match: { alertname: 'KubeDeploymentGenerationMismatch' },
    runbook: 'emergency-rollback',
    severity: BY_SEVERITY_LABEL,
  },
] as const;

export const DEFAULT_ROUTES: readonly RouteRule[] = z.array(routeRuleSchema).parse(DEFAULT_ROUTE_SOURCE);
