// Writes postmortem/history-proto.json: the protobuf descriptors `firebreak postmortem` needs to read
// a workflow's history — the messages reachable from GetWorkflowExecutionHistory and
// DescribeWorkflowExecution, taken from @temporalio/proto — so the CLI decodes a history without
// loading Temporal's whole protobuf root (every service, the core SDK's messages: ~0.2 s of a cold
// start). Oneofs whose members are all messages are left out: protobufjs 8 deletes every other
// member of a oneof each time it decodes one, 60 deletes per history event; without the oneof
// declaration the decoded messages carry the same fields (a server never sends two members).
// test/postmortem-lean.test.ts checks the file is what this script writes for the installed
// @temporalio/proto and that both decode a history alike.
//
//   node scripts/history-proto.mjs           rewrite the file
//   node scripts/history-proto.mjs --check   exit 1 when the file is out of date
import console from 'node:console';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import process from 'node:process';
import { fileURLToPath, URL } from 'node:url';

const require = createRequire(import.meta.url);
export const OUT = fileURLToPath(new URL('../postmortem/history-proto.json', import.meta.url));
export const ROOTS = [
  '.temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryRequest',
  '.temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse',
  '.temporal.api.workflowservice.v1.DescribeWorkflowExecutionRequest',
  '.temporal.api.workflowservice.v1.DescribeWorkflowExecutionResponse',
];

export function historyProtoJson() {
  const protobuf = require('protobufjs/light');
  // The unpatched root the SDK builds its own from.
  const root = require('@temporalio/proto/protos/json-module');
  root.resolveAll();
  const keep = new Set();
  const visit = (type) => {
    if (keep.has(type.fullName)) return;
    keep.add(type.fullName);
    if (type instanceof protobuf.Type) {
      for (const field of type.fieldsArray) if (field.resolve().resolvedType) visit(field.resolvedType);
    }
  };
  for (const name of ROOTS) visit(root.lookupTypeOrEnum(name));
  const prune = (json, obj, prefix) => {
    const out = { ...json };
    delete out.nested;
    const nested = {};
    for (const [name, child] of Object.entries(json.nested ?? {})) {
      const full = `${prefix}.${name}`;
      const sub = prune(child, obj.nested[name], full);
      if (keep.has(full)) nested[name] = sub;
      else if (sub.nested) nested[name] = { ...(child.options ? { options: child.options } : {}), nested: sub.nested };
    }
    if (obj instanceof protobuf.Type && out.oneofs) {
      const oneofs = { ...out.oneofs };
      for (const oneof of obj.oneofsArray) {
        if (oneof.fieldsArray.every((field) => field.resolvedType instanceof protobuf.Type)) delete oneofs[oneof.name];
      }
      if (Object.keys(oneofs).length) out.oneofs = oneofs;
      else delete out.oneofs;
    }
    if (Object.keys(nested).length) out.nested = nested;
    return out;
  };
  return `${JSON.stringify(prune(root.toJSON(), root, ''))}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const text = historyProtoJson();
  if (process.argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(OUT, 'utf8');
    } catch {
      // absent: out of date
    }
    if (current !== text) {
      console.error(`${OUT} is out of date: node scripts/history-proto.mjs`);
      process.exit(1);
    }
  } else {
    writeFileSync(OUT, text);
    console.error(`wrote ${OUT} (${text.length} bytes)`);
  }
}
