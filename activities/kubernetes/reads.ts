/**
 * Reads: the Deployment's pods, the namespace's events, OOM kills, container logs and the live
 * settings a mitigation changed. Nothing here changes the cluster; QUICK profile.
 */
import type { Target } from '../../common/types';
import type { KubeApi } from './api';
import { call } from './errors';
import { clamp, eventTime, findContainer, isoTime, labelSelectorString, summarizeEvent, summarizePod } from './kubectl';
import type { DeploymentSettings, EventSummary, OomKill, PodSummary } from './types';

const DEFAULT_EVENT_LIMIT = 20;
const MAX_EVENT_LIMIT = 500;
const DEFAULT_LOG_TAIL_LINES = 200;
const LOG_LIMIT_BYTES = 256 * 1024;

export function createReadActivities({ core, readDeployment }: KubeApi) {
  return {
    /**
     * Pods selected by the Deployment's selector: phase, readiness, restarts and each container's
     * last termination (reason, exit code). Read-only; no idempotency key; QUICK profile.
     */
    async listDeploymentPods(target: Target): Promise<PodSummary[]> {
      const deployment = await readDeployment(target);
      const pods = await call({ verb: 'list', resource: 'pods', namespace: target.namespace }, () =>
        core.listNamespacedPod({
          namespace: target.namespace,
          labelSelector: labelSelectorString(deployment.spec?.selector),
        }),
      );
      return pods.items.map(summarizePod).sort((a, b) => a.name.localeCompare(b.name));
    },

    /**
     * The namespace's most recent events, newest last (`kubectl get events --sort-by=.lastTimestamp`
     * and keep the tail). Read-only; no idempotency key; QUICK profile.
     */
    async listRecentEvents(input: { namespace: string; limit?: number }): Promise<EventSummary[]> {
      const limit = clamp(input.limit, DEFAULT_EVENT_LIMIT, MAX_EVENT_LIMIT);
      const events = await call({ verb: 'list', resource: 'events', namespace: input.namespace }, () =>
        core.listNamespacedEvent({ namespace: input.namespace }),
      );
      return events.items
        .map(summarizeEvent)
        .sort((a, b) => a.lastTimestamp.localeCompare(b.lastTimestamp))
        .slice(-limit);
    },

    /**
     * OOM kills of the Deployment's pods. Kubelets never emit an `OOMKilled` event: the kill is in
     * each container's lastState (or state) `terminated` with reason OOMKilled / exit code 137; the
     * kernel's view comes as `OOMKilling` / `SystemOOM` events on the nodes running those pods.
     * Read-only; no idempotency key; QUICK profile.
     */
    async findOomKills(target: Target): Promise<OomKill[]> {
      const deployment = await readDeployment(target);
      const pods = await call({ verb: 'list', resource: 'pods', namespace: target.namespace }, () =>
        core.listNamespacedPod({
          namespace: target.namespace,
          labelSelector: labelSelectorString(deployment.spec?.selector),
        }),
      );
      const kills: OomKill[] = [];
      // A node's OOM events concern us only from the moment one of our pods ran there.
      const nodes = new Map<string, string>();
      for (const pod of pods.items) {
        const node = pod.spec?.nodeName;
        const since = isoTime(pod.metadata?.creationTimestamp) ?? '';
        if (node && (!nodes.has(node) || since < nodes.get(node)!)) nodes.set(node, since);
        for (const status of pod.status?.containerStatuses ?? []) {
          for (const terminated of [status.lastState?.terminated, status.state?.terminated]) {
            if (terminated?.reason !== 'OOMKilled') continue;
            kills.push({
              source: 'containerStatus',
              pod: pod.metadata?.name,
              container: status.name,
              node: pod.spec?.nodeName,
              at: isoTime(terminated.finishedAt),
              exitCode: terminated.exitCode,
              message: terminated.message,
            });
          }
        }
      }
      if (nodes.size > 0) {
        // Node events are namespaced in "default" (a Node has no namespace of its own).
        const events = await call({ verb: 'list', resource: 'events', namespace: 'default' }, () =>
          core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.kind=Node' }),
        );
        for (const event of events.items) {
          const node = event.involvedObject.name;
          if (!node || (event.reason !== 'OOMKilling' && event.reason !== 'SystemOOM')) continue;
          const since = nodes.get(node);
          const at = eventTime(event);
          if (since === undefined || at < since) continue;
          kills.push({ source: 'nodeEvent', node, at, message: event.message });
        }
      }
      return kills.sort((a, b) => (a.at ?? '').localeCompare(b.at ?? ''));
    },

    /**
     * A container's log (`kubectl logs [--previous] --tail`), capped at 256 KiB. Read-only; no
     * idempotency key; QUICK profile.
     */
    async readPodLogs(input: {
      namespace: string;
      pod: string;
      container?: string;
      previous?: boolean;
      tailLines?: number;
    }): Promise<string> {
      return call({ verb: 'get', resource: 'pods/log', namespace: input.namespace, name: input.pod }, () =>
        core.readNamespacedPodLog({
          name: input.pod,
          namespace: input.namespace,
          container: input.container,
          previous: input.previous ?? false,
          tailLines: clamp(input.tailLines, DEFAULT_LOG_TAIL_LINES, 100_000),
          limitBytes: LOG_LIMIT_BYTES,
        }),
      );
    },

    /**
     * The settings temporary mitigations change, as the Deployment holds them now: replicas and,
     * for the container named (or kubectl's default one), env values, limits and requests.
     * Restoration and the runbooks compare these with what they set before changing anything.
     * Read-only; no idempotency key; QUICK profile.
     */
    async readDeploymentSettings(input: Target & { container?: string }): Promise<DeploymentSettings> {
      const deployment = await readDeployment(input);
      const template = deployment.spec?.template;
      const containers = template?.spec?.containers ?? [];
      const container = findContainer(containers, template?.metadata?.annotations, input.container);
      const env = container?.env ?? [];
      return {
        replicas: deployment.spec?.replicas ?? 0,
        containers: containers.map((c) => c.name),
        ...(container
          ? {
              container: {
                name: container.name,
                env: Object.fromEntries(env.filter((e) => !e.valueFrom).map((e) => [e.name, e.value ?? ''])),
                envFromReference: env.filter((e) => e.valueFrom).map((e) => e.name),
                limits: { ...container.resources?.limits },
                requests: { ...container.resources?.requests },
              },
            }
          : {}),
      };
    },
  };
}
