/**
 * The protobuf messages of a workflow history, without Temporal's whole protobuf root:
 * history-proto.json holds only what GetWorkflowExecutionHistory and DescribeWorkflowExecution
 * need (scripts/history-proto.mjs writes it from @temporalio/proto). Messages decoded with it carry
 * the same fields and values as the SDK's own (test/postmortem-lean.test.ts decodes recorded
 * histories both ways), so the reducer and the digest read either alike.
 */
import type proto from '@temporalio/proto';
import protobuf from 'protobufjs/light';
import descriptor from './history-proto.json';

const root = protobuf.Root.fromJSON(descriptor as protobuf.INamespace);

const type = (name: string) => root.lookupType(name);

export const HistoryEventType = type('temporal.api.history.v1.HistoryEvent');
export const GetHistoryRequest = type('temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryRequest');
export const GetHistoryResponse = type('temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse');
export const DescribeRequest = type('temporal.api.workflowservice.v1.DescribeWorkflowExecutionRequest');
export const DescribeResponse = type('temporal.api.workflowservice.v1.DescribeWorkflowExecutionResponse');

/** temporal.api.enums.v1.EventType, as the SDK's enum (protobufjs maps names to numbers and back). */
export const EventType = root.lookupEnum('temporal.api.enums.v1.EventType')
  .values as unknown as typeof proto.temporal.api.enums.v1.EventType;

export { protobuf };
