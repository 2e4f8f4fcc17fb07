/**
 * What one workflow costs the worker before it runs: the SDK evaluates the bundle's modules again
 * for every workflow it creates (reused V8 context), so each cached incident holds its own module
 * instances. Creates N workflows of a type from a bundle in this thread with the SDK's
 * ReusableVMWorkflowCreator and prints the heap per workflow (after full GCs), the CPU per creation
 * and the modules each one instantiated. No server, no worker.
 *
 *   node --expose-gc bench/processes/workflow-footprint.mjs <bundle.js> [N=200] [workflowType]
 *
 * A bundle: `node --import tsx worker/bundle.ts /tmp/workflows.js` (today's sources).
 */
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import process from 'node:process';
import console from 'node:console';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { ReusableVMWorkflowCreator } = require('@temporalio/worker/lib/workflow/reusable-vm.js');

const [file, count = '200', workflowType = 'emergencyRollbackWorkflow'] = process.argv.slice(2);
if (!file || typeof globalThis.gc !== 'function') {
  console.error('usage: node --expose-gc bench/processes/workflow-footprint.mjs <bundle.js> [N] [workflowType]');
  process.exit(2);
}
const n = Number(count);
const code = readFileSync(file, 'utf8');
const at = code.lastIndexOf('//# sourceMappingURL=data:');
const sourceMap = JSON.parse(Buffer.from(code.slice(at).split(',')[1], 'base64').toString());
const creator = await ReusableVMWorkflowCreator.create({ code, filename: file, sourceMap }, 5000, new Set(), undefined);
const heapMiB = () => {
  for (let i = 0; i < 4; i++) globalThis.gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const create = (i) =>
  creator.createWorkflow({
    info: {
      workflowType,
      workflowId: `footprint-${i}`,
      runId: `run-${i}`,
      firstExecutionRunId: `run-${i}`,
      taskQueue: 'footprint',
      namespace: 'default',
      attempt: 1,
      searchAttributes: {},
      typedSearchAttributes: [],
      memo: {},
      historyLength: 3,
      historySize: 100,
      continueAsNewSuggested: false,
      currentBuildId: '',
      unsafe: { isReplaying: false, now: () => Date.now() },
      startTime: new Date(),
      runStartTime: new Date(),
      taskTimeoutMs: 10_000,
      priority: {},
    },
    randomnessSeed: [1, 2],
    now: Date.now(),
    showStackTraceSources: false,
  });
await (await create(-1)).dispose(); // the shared modules and the JIT, once
const before = heapMiB();
const cpu = process.cpuUsage();
const workflows = [];
for (let i = 0; i < n; i++) workflows.push(await create(i));
const used = process.cpuUsage(cpu);
const after = heapMiB();
const modules = {};
for (const key of workflows[0].activator.moduleCache.keys()) {
  const parts = String(key).split('/');
  const group = parts.slice(1, parts[1] === 'node_modules' ? 3 : 2).join('/');
  modules[group] = (modules[group] ?? 0) + 1;
}
console.log(
  JSON.stringify({
    bundle: file,
    workflows: n,
    heapKiBPerWorkflow: Number((((after - before) * 1024) / n).toFixed(1)),
    cpuMsPerCreation: Number(((used.user + used.system) / 1000 / n).toFixed(2)),
    modulesPerWorkflow: workflows[0].activator.moduleCache.size,
    modules,
  }),
);
