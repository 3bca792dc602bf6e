import type { Backend } from '../core/classification.js';
import { backends } from '../core/classification.js';

/** What was running when the error happened; decides whether a lost connection leaves the outcome unknown. */
export type InFlight = 'commit' | 'write' | 'read';

/**
 * Options of classify. Everything but `dialect` is a hint from the session that saw the error: facts the
 * error itself cannot carry.
 */
export interface ClassifyOptions {
  /** The backend the error came from; without it, classify works it out from the error's shape. */
  readonly dialect?: Backend;
  /**
   * 'commit': a COMMIT (or RELEASE of the outermost savepoint) was in flight; 'write': an autocommit write
   * (outside any transaction) was. A connection lost then is `ambiguous` and not retryable (E9).
   */
  readonly inFlight?: InFlight;
  /** dbop itself cancelled the statement (pg_cancel_backend, KILL QUERY): 57014 / 1317 become attempt-timeout. */
  readonly cancelledByDbop?: boolean;
  /**
   * SQLite: the statement was the first write of a transaction begun DEFERRED that had already read. SQLITE_BUSY
   * then comes from the read->write upgrade, which waiting cannot fix: scope becomes 'transaction'.
   */
  readonly deferredUpgrade?: boolean;
}

const optionKeys: ReadonlySet<string> = new Set([
  'dialect',
  'inFlight',
  'cancelledByDbop',
  'deferredUpgrade',
]);
const inFlights: readonly string[] = ['commit', 'write', 'read'];

/** Validates classify options once (unknown keys, bad values) and freezes them. */
export function resolveClassifyOptions(options: ClassifyOptions | undefined): ClassifyOptions {
  if (options === undefined) return Object.freeze({});
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected classify options to be an object, got ${String(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!optionKeys.has(key)) throw new TypeError(`Unknown classify option \`${key}\``);
  }
  const { dialect, inFlight, cancelledByDbop, deferredUpgrade } = options;
  if (dialect !== undefined && !(backends as readonly string[]).includes(dialect)) {
    throw new TypeError(`Expected \`dialect\` to be one of ${backends.join(', ')}, got ${String(dialect)}`);
  }
  if (inFlight !== undefined && !inFlights.includes(inFlight)) {
    throw new TypeError(
      `Expected \`inFlight\` to be one of ${inFlights.join(', ')}, got ${String(inFlight)}`,
    );
  }
  for (const [name, value] of [
    ['cancelledByDbop', cancelledByDbop],
    ['deferredUpgrade', deferredUpgrade],
  ] as const) {
    if (value !== undefined && typeof value !== 'boolean') {
      throw new TypeError(`Expected \`${name}\` to be a boolean, got ${String(value)}`);
    }
  }
  return Object.freeze({ ...options });
}
