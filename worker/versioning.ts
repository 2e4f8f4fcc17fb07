/**
 * Pinned worker versioning: every workflow bundle is a build of one Worker Deployment, identified by
 * the bundle's content hash. Incidents are PINNED, so each finishes on the build it started on; the
 * bundle of every build that still has open incidents is kept (content-addressed) in the data dir,
 * so a restarted `firebreak start` can run a worker for it beside the current one.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { isGrpcServiceError, type Client, type Connection } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import { runbookKey } from '../common/search-attributes';
import type { Env } from '../config/env';
import { firebreakCacheDir } from '../scripts/temporal-bin';
import { writeFileAtomically } from './files';

/** A build: the workflow bundle's code and its content hash, which is the build id. */
export interface WorkflowBuild {
  buildId: string;
  code: string;
}

const BUILD_ID_LENGTH = 20;

export function buildOf(code: string): WorkflowBuild {
  return { buildId: createHash('sha256').update(code).digest('hex').slice(0, BUILD_ID_LENGTH), code };
}

/** The deployment's name: FIREBREAK_DEPLOYMENT_NAME, else the task queue's (without what Temporal refuses). */
export function deploymentName(env: Env): string {
  return env.FIREBREAK_DEPLOYMENT_NAME ?? env.FIREBREAK_TASK_QUEUE.replace(/[.:]/g, '-');
}

export function deploymentVersion(env: Env, buildId: string): WorkerDeploymentVersion {
  return { deploymentName: deploymentName(env), buildId };
}

/** Kept bundles live in the data dir (a restart finds them) and beside the bundle cache. */
export function keptBuildsDir(env: Env): string {
  return path.resolve(env.FIREBREAK_DATA_DIR, 'builds');
}

const cachedBuildFile = (buildId: string) => path.join(firebreakCacheDir(), 'bundles', `build-${buildId}.js`);
const BUILD_FILE = /^([0-9a-f]{20})\.js$/;

/** Content-addressed: a file already there holds the same code. */
async function writeOnce(file: string, code: string): Promise<void> {
  if (!existsSync(file)) await writeFileAtomically(file, code);
}

/** Keeps a build's bundle, content-addressed: the same code is written once. */
export async function keepBuild(env: Env, build: WorkflowBuild): Promise<string> {
  const file = path.join(keptBuildsDir(env), `${build.buildId}.js`);
  await writeOnce(file, build.code);
  // The cache copy is a convenience (`firebreak replay --bundle`); the data dir's is the one relied on.
  await writeOnce(cachedBuildFile(build.buildId), build.code).catch(() => undefined);
  return file;
}

/** The builds kept in the data dir, by id. */
export async function keptBuilds(env: Env): Promise<string[]> {
  const names = await readdir(keptBuildsDir(env)).catch(() => [] as string[]);
  return names.flatMap((name) => BUILD_FILE.exec(name)?.[1] ?? []).sort();
}

/** A kept build's bundle, from the data dir or else the cache; the content must still hash to its id. */
export async function loadKeptBuild(env: Env, buildId: string): Promise<WorkflowBuild | undefined> {
  for (const file of [path.join(keptBuildsDir(env), `${buildId}.js`), cachedBuildFile(buildId)]) {
    const code = await readFile(file, 'utf8').catch(() => undefined);
    if (code !== undefined && buildOf(code).buildId === buildId) return { buildId, code };
  }
  return undefined;
}

export async function pruneBuild(env: Env, buildId: string): Promise<void> {
  await rm(path.join(keptBuildsDir(env), `${buildId}.js`), { force: true });
}

/** Visibility's name for a version: `<deployment>:<build>`. */
export const versionKey = (version: WorkerDeploymentVersion) => `${version.deploymentName}:${version.buildId}`;

/** Running incidents on a build (incidents carry FirebreakRunbook; the hold and refusal log do not, and follow the current build). */
export async function openIncidentsOn(client: Client, version: WorkerDeploymentVersion): Promise<number> {
  const query =
    `TemporalWorkerDeploymentVersion = '${versionKey(version)}' AND ExecutionStatus = 'Running'` +
    ` AND ${runbookKey.name} IS NOT NULL`;
  const { count } = await client.workflow.count(query);
  return count;
}

/**
 * Makes `buildId` the deployment's current version, so new incidents start on it. The server only
 * knows a version once its worker has polled, so this retries for a while after the worker starts.
 */
export async function setCurrentBuild(
  connection: Connection,
  options: { namespace: string; version: WorkerDeploymentVersion; identity: string; timeoutMs?: number },
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const { namespace, version } = options;
  for (;;) {
    try {
      const described = await connection.workflowService
        .describeWorkerDeployment({ namespace, deploymentName: version.deploymentName })
        .catch(() => undefined);
      if (described?.workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId === version.buildId) return;
      await connection.workflowService.setWorkerDeploymentCurrentVersion({
        namespace,
        deploymentName: version.deploymentName,
        buildId: version.buildId,
        identity: options.identity,
        // The older builds poll the same task queue: nothing is missing when the current one moves.
        ignoreMissingTaskQueues: true,
      });
      return;
    } catch (err) {
      // NotFound / FailedPrecondition until the new version's first poll has reached the server.
      const retryable = isGrpcServiceError(err) && [5, 9, 10, 14].includes(err.code);
      if (!retryable || Date.now() > deadline) {
        throw new Error(
          `could not make build ${version.buildId} the current version of deployment ${version.deploymentName}: ${
            (err as Error).message
          }`,
          { cause: err },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
