/**
 * What an activity hands the workflow about a piece of evidence: a small reference, never the
 * bytes. The bytes live in the evidence store (store.ts), outside Temporal's payloads.
 */
export interface EvidenceRef {
  /** The artefact's name within its incident, e.g. `heap-profile-checkout-7d9f.prof`; also its file name. */
  name: string;
  /** What it is and where it came from, in words: `heap profile of shop/checkout-7d9f (app) from http://…`. */
  source: string;
  /** Absolute path of the stored file (the evidence directory). */
  path: string;
  /** Copies kept elsewhere (the archive directory), when configured. */
  copies: string[];
  /** Size of the stored file. */
  bytes: number;
  /** Hex SHA-256 of the stored bytes. */
  sha256: string;
  /** The source had more than the cap: the file holds its first `bytes` bytes only. */
  truncated: boolean;
  /** The cap in force when it was captured. */
  maxBytes: number;
  capturedAt: string;
}

/** Where an artefact was posted in Slack (files.completeUploadExternal). */
export interface SharedEvidence {
  fileId: string;
  channel: string;
  threadTs: string;
}
