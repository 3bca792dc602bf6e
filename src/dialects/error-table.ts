import type { Backend, Classification, ErrorKind, RetryScope } from '../core/classification.js';

/**
 * Overrides the retryable default of an entry's kind: 'ambiguous' marks an outcome that is always
 * unknown (never retried blindly), 'final' a known kind that retrying cannot fix, 'retry' the reverse.
 */
export type EntryFlag = 'ambiguous' | 'final' | 'retry';

/** One code of a table: code, kind, scope, a one-line note (rendered in docs/errors.md), optional flag. */
export type ErrorEntry = readonly [
  code: string,
  kind: ErrorKind,
  scope: RetryScope,
  note: string,
  flag?: EntryFlag,
];

/** A list of entries; data, so docs/errors.md can be generated from it. */
export type ErrorTable = readonly ErrorEntry[];

// Kinds a retry can fix by default; the rest stop at once (E3) unless an entry says otherwise.
const retryableKinds: ReadonlySet<ErrorKind> = new Set<ErrorKind>([
  'serialization',
  'deadlock',
  'lock-timeout',
  'statement-timeout',
  'attempt-timeout',
  'connection-lost',
  'connect-failed',
  'too-many-connections',
  'server-shutdown',
  'server-starting',
]);

/** Whether a kind is retryable when no entry flag says otherwise. */
export function kindRetryable(kind: ErrorKind): boolean {
  return retryableKinds.has(kind);
}

/** Builds one frozen Classification; `backend` and `code` are left out when unknown. */
export function makeClassification(
  kind: ErrorKind,
  scope: RetryScope,
  backend: Backend | undefined,
  code: string | undefined,
  flag?: EntryFlag,
): Classification {
  const ambiguous = flag === 'ambiguous';
  const retryable = flag === 'retry' || (flag === undefined && kindRetryable(kind));
  const result: { -readonly [K in keyof Classification]: Classification[K] } = {
    kind,
    retryable,
    scope,
    ambiguous,
  };
  if (backend !== undefined) result.backend = backend;
  if (code !== undefined) result.code = code;
  return Object.freeze(result);
}

/** A copy of `base` with some fields changed, frozen (for hints and refinements off the hot path). */
export function variant(base: Classification, changes: Partial<Classification>): Classification {
  return Object.freeze({ ...base, ...changes });
}

/** `hit` reported under `dialect` when the caller named one (a Node error seen by a Postgres session). */
export function withBackend<T extends Classification | undefined>(hit: T, dialect: Backend | undefined): T {
  if (hit === undefined || dialect === undefined || dialect === hit.backend) return hit;
  return variant(hit, { backend: dialect }) as T;
}

/** Compiles a table into a Map from code to its frozen Classification, so lookups allocate nothing. */
export function compileTable(
  table: ErrorTable,
  backend: Backend | undefined,
): ReadonlyMap<string, Classification> {
  const map = new Map<string, Classification>();
  for (const [code, kind, scope, , flag] of table) {
    if (map.has(code)) throw new Error(`Duplicate error code ${code} in a ${backend ?? 'generic'} table`);
    map.set(code, makeClassification(kind, scope, backend, code, flag));
  }
  return map;
}

/** The verdict for anything dbop does not know: not retryable, nowhere. */
export const unknownClassification: Classification = makeClassification(
  'unknown',
  'none',
  undefined,
  undefined,
);
