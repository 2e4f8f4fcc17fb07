/**
 * The `firebreak` commands, in the order `firebreak --help` lists them. Each talks to incidents only
 * through the Temporal client and the message contract (domain/messages.ts), exactly as the Slack
 * ingress does; none loads the worker (`firebreak start` does, on demand: cli/main.ts).
 *
 * The registry holds only what `firebreak --help` prints; a command's module — and with it the
 * Temporal client, protobufs and zod — loads when that command runs or shows its own help. A new
 * command is one entry here: its name, the summary the listing shows, and its module.
 * test/cli.test.ts checks that each entry's name and summary are its module's.
 */
import type { Command } from '../command';

export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'runbooks',
    summary: 'List the runbooks, their parameters and approval gates',
    load: async () => (await import('./runbooks')).runbooks,
  },
  {
    name: 'run',
    summary: 'Start a runbook on a deployment and follow it',
    load: async () => (await import('./run')).run,
  },
  {
    name: 'incidents',
    summary: 'List incidents (Temporal visibility), newest first',
    load: async () => (await import('./incidents')).incidents,
  },
  {
    name: 'status',
    summary: 'Show an incident: status, step, gates, mitigations, recent timeline',
    load: async () => (await import('./incident')).status,
  },
  {
    name: 'ack',
    summary: 'Acknowledge an incident (stops escalation)',
    load: async () => (await import('./incident')).ack,
  },
  {
    name: 'approve',
    summary: 'Approve a pending gate',
    load: async () => (await import('./incident')).decideCommand('approve'),
  },
  {
    name: 'reject',
    summary: 'Reject a pending gate',
    load: async () => (await import('./incident')).decideCommand('reject'),
  },
  {
    name: 'resolve',
    summary: 'Mark an incident resolved (mitigations are then restored per policy)',
    load: async () => (await import('./incident')).resolve,
  },
  {
    name: 'cancel',
    summary: 'Cancel an incident: stop its runbook, withdraw gates, restore mitigations, resolve pages',
    load: async () => (await import('./cancel')).cancel,
  },
  {
    name: 'postmortem',
    summary: 'Export the postmortem of an incident from its workflow history',
    load: async () => (await import('./postmortem')).postmortem,
  },
  {
    name: 'replay',
    summary: 'Replay open incidents on their own build (or --bundle): ok or the first divergence',
    load: async () => (await import('./replay')).replay,
  },
  {
    name: 'doctor',
    summary: 'Check every integration (Temporal, Slack, PagerDuty, Kubernetes RBAC, Prometheus, dirs, escalation)',
    load: async () => (await import('./doctor')).doctor,
  },
  {
    name: 'rbac',
    summary: "Print the worker's namespace-scoped Kubernetes Roles and the ingress's read-only identity",
    load: async () => (await import('./rbac')).rbac,
  },
];
