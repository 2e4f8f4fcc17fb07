/**
 * The incident kernel every runbook runs inside. A runbook workflow is `runIncident(input, steps)`;
 * its steps see only `Incident` (incident.ts). The parts, one concern each: state.ts (record and
 * timeline), approvals.ts (gates), escalation.ts (tiers and pages), ledger.ts (temporary
 * mitigations and their restoration), courier.ts (the Slack card and thread), lifecycle.ts (open,
 * run, wait for resolution, continue-as-new, close), proxies.ts (activities per timeout profile).
 */
export { runIncident, type RunbookSteps } from './lifecycle';
export type { Incident } from './incident';
export type { GateSpec } from './approvals';
export type { ResumableInput } from './state';
