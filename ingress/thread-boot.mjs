// The ingress thread's entry when running from the TypeScript sources (ingress/thread.ts): a loader
// registered with tsx's API in the main thread does not reach worker threads, so it registers its
// own, then loads the thread's body. The compiled CLI starts dist/ingress-thread.cjs instead.
import { workerData } from 'node:worker_threads';

const { register } = await import('tsx/esm/api');
register();
await import(workerData.entry);
