// Starts demo-thread.ts in a worker thread when dbop runs from source (npm run demo under tsx, the tests):
// a thread does not inherit tsx's loader, so it registers it before importing the TypeScript entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.script);
