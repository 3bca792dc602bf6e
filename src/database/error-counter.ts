import type { Classification } from '../core/classification.js';
import { channels, type ErrorMessage } from '../core/diagnostics.js';
import { isDbopError } from '../core/errors.js';

/** Database errors counted by kind and by code, as stats() reports them. */
export interface ErrorCounts {
  readonly total: number;
  readonly byKind: Readonly<Record<string, number>>;
  /** Keyed by `backend:code`, e.g. `postgres:40001`, `mariadb:1213`, `sqlite:SQLITE_BUSY`; dbop's own as `dbop:DBOP_NO_HOST_AVAILABLE`. */
  readonly byCode: Readonly<Record<string, number>>;
}

/**
 * Counts every database error by kind and code (FAForever's stat_db_errors). Errors raised outside the
 * engine's execute() (statements inside acquire) are also published on `dbop:error`; those inside it are
 * published by the engine itself, so nothing is published twice.
 */
export class ErrorCounter {
  readonly #classify: (error: unknown) => Classification;
  readonly #seen = new WeakSet<object>();
  #total = 0;
  readonly #byKind = new Map<string, number>();
  readonly #byCode = new Map<string, number>();

  constructor(classify: (error: unknown) => Classification) {
    this.#classify = classify;
  }

  /** `error`'s classification, not counted. */
  classify(error: unknown): Classification {
    return this.#classify(error);
  }

  /** Counts `error` once, however many layers rethrow it; `publishAs` names the step when the engine did not see it. */
  record(error: unknown, publishAs?: string): Classification {
    const classification = this.#classify(error);
    // A lock wait the caller's abort (or time limit) ended: nothing the database said.
    if (isDbopError(error, 'DBOP_LOCK_WAIT_CANCELLED')) return classification;
    if (typeof error === 'object' && error !== null) {
      if (this.#seen.has(error)) return classification;
      this.#seen.add(error);
    }
    this.#total += 1;
    bump(this.#byKind, classification.kind);
    bump(this.#byCode, codeKey(classification));
    if (publishAs !== undefined && channels.error.hasSubscribers) {
      const message: ErrorMessage = {
        operationId: 0,
        name: publishAs,
        attempt: 1,
        error,
        retryable: classification.retryable,
        classification,
      };
      channels.error.publish(message);
    }
    return classification;
  }

  /** A frozen copy of the counts. */
  snapshot(): ErrorCounts {
    return Object.freeze({
      total: this.#total,
      byKind: Object.freeze(Object.fromEntries(this.#byKind)),
      byCode: Object.freeze(Object.fromEntries(this.#byCode)),
    });
  }
}

function bump(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** `backend:code`; dbop's own errors (DBOP_*) are dbop's, whichever backend the Database talks to. */
function codeKey(classification: Classification): string {
  const code = classification.code ?? 'none';
  const owner = code.startsWith('DBOP_') ? 'dbop' : (classification.backend ?? 'unknown');
  return `${owner}:${code}`;
}
