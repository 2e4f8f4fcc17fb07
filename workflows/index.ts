/**
 * The worker's workflowsPath: every runbook workflow, by its permanent type name. Renaming an
 * export breaks running incidents — add a new workflow and `patched()` instead.
 */
export { p0ResponseWorkflow } from './p0-response';
export { emergencyRollbackWorkflow } from './emergency-rollback';
export { avalancheMitigationWorkflow } from './avalanche-mitigation';
export { oomTriageWorkflow } from './oom-triage';
export { deploymentHoldWorkflow } from './hold';
export { accessRefusalsWorkflow } from './refusals';
export { declarativeRunbookWorkflow } from './declarative';
