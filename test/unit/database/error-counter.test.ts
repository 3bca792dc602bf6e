import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { NoHostAvailableError } from '../../../src/connect/no-host-available-error.js';
import { channelNames, type ErrorMessage } from '../../../src/core/diagnostics.js';
import { AmbiguousCommitError, DbopError } from '../../../src/core/errors.js';
import { ErrorCounter } from '../../../src/database/error-counter.js';
import { classify } from '../../../src/dialects/classify.js';

const published: ErrorMessage[] = [];
const listener = (message: unknown): void => {
  published.push(message as ErrorMessage);
};

afterEach(() => {
  unsubscribe(channelNames.error, listener);
  published.length = 0;
});

// Error shapes as the drivers raise them (the integration tests count errors the servers really sent).
const pgDeadlock = (): Error =>
  Object.assign(new Error('deadlock detected'), { code: '40P01', severity: 'ERROR' });
const sqliteBusy = (): Error =>
  Object.assign(new Error('database is locked'), { name: 'SqliteError', code: 'SQLITE_BUSY' });

describe('ErrorCounter', () => {
  it('counts by kind and by backend:code', () => {
    const counter = new ErrorCounter((error) => classify(error));
    counter.record(pgDeadlock());
    counter.record(pgDeadlock());
    counter.record(sqliteBusy());
    expect(counter.snapshot()).toEqual({
      total: 3,
      byKind: { deadlock: 2, 'lock-timeout': 1 },
      byCode: { 'postgres:40P01': 2, 'sqlite:SQLITE_BUSY': 1 },
    });
  });

  it('does not count a lock wait the caller cancelled, even with a SQLITE_BUSY as its cause', () => {
    const counter = new ErrorCounter((error) => classify(error));
    const cancelled = new DbopError('DBOP_LOCK_WAIT_CANCELLED', 'cancelled', { cause: sqliteBusy() });
    expect(counter.record(cancelled)).toMatchObject({ kind: 'cancelled', retryable: false });
    expect(counter.snapshot().total).toBe(0);
  });

  it("files dbop's own errors under dbop:, whatever the backend (never unknown:)", () => {
    for (const dialect of [undefined, 'postgres'] as const) {
      const counter = new ErrorCounter((error) => classify(error, dialect === undefined ? {} : { dialect }));
      counter.record(new NoHostAvailableError('read-write', [{ host: 'db1:5432', reason: 'ECONNREFUSED' }]));
      counter.record(new AmbiguousCommitError('commit', { cause: new Error('lost') }));
      expect(counter.snapshot().byCode).toEqual({
        'dbop:DBOP_NO_HOST_AVAILABLE': 1,
        'dbop:DBOP_AMBIGUOUS_COMMIT': 1,
      });
    }
  });

  it('counts one error object once, however many layers see it', () => {
    const counter = new ErrorCounter((error) => classify(error));
    const error = pgDeadlock();
    counter.record(error);
    counter.record(error, 'acquire');
    expect(counter.snapshot().total).toBe(1);
  });

  it("publishes on dbop:error only errors the engine did not see, in the engine's message shape", () => {
    subscribe(channelNames.error, listener);
    const counter = new ErrorCounter((error) => classify(error));
    counter.record(pgDeadlock());
    expect(published).toHaveLength(0);
    const error = sqliteBusy();
    counter.record(error, 'acquire');
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ name: 'acquire', attempt: 1, error, retryable: true });
    expect(published[0]!.classification).toMatchObject({ kind: 'lock-timeout', code: 'SQLITE_BUSY' });
  });

  it('returns frozen snapshots', () => {
    const snapshot = new ErrorCounter((error) => classify(error)).snapshot();
    expect(Object.isFrozen(snapshot)).toBe(true);
    expect(Object.isFrozen(snapshot.byKind)).toBe(true);
  });
});
