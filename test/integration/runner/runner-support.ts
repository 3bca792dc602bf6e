import type { Logger } from '../../../src/core/execute-options.js';

/** A logger that keeps every record, to assert on R3 and count retries by kind. */
export function recordingLogger(): Logger & {
  records: { level: string; object: Record<string, unknown>; message: string }[];
} {
  const records: { level: string; object: Record<string, unknown>; message: string }[] = [];
  const at = (level: string) => (object: object, message: string) => {
    records.push({ level, object: object as Record<string, unknown>, message });
  };
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Resolves once `parties` callers arrived (or after `timeoutMs`, so a lost race never hangs a test). */
export function barrier(parties: number, timeoutMs = 3000): () => Promise<void> {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((resolve) => {
    release = resolve;
  });
  return async () => {
    arrived += 1;
    if (arrived >= parties) release();
    await Promise.race([all, new Promise((r) => setTimeout(r, timeoutMs))]);
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
