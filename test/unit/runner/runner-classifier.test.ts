import { describe, expect, it } from 'vitest';
import { AmbiguousCommitError } from '../../../src/core/errors.js';
import { isEscalated, runnerClassification } from '../../../src/runner/runner-classifier.js';
import { markCommitInFlight } from '../../../src/sessions/shared/verify-commit.js';

const nested = { nested: true, canReconnect: false, idempotent: false };
const owner = { nested: false, canReconnect: false, idempotent: false };
const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code, severity: 'ERROR' });
const mysqlError = (errno: number) =>
  Object.assign(new Error(`mysql ${errno}`), { errno, sqlState: 'HY000' });

describe('runnerClassification (rule S5)', () => {
  it('escalates transaction-scope errors out of a nested step and retries lock timeouts in place', () => {
    for (const error of [pgError('40001'), pgError('40P01')]) {
      expect(runnerClassification(error, 'postgres', nested).retryable).toBe(false);
      expect(isEscalated(error)).toBe(true);
    }
    const deadlock = mysqlError(1213);
    expect(runnerClassification(deadlock, 'mariadb', nested).retryable).toBe(false);
    expect(isEscalated(deadlock)).toBe(true);
    const lock = pgError('55P03');
    expect(runnerClassification(lock, 'postgres', nested)).toMatchObject({
      retryable: true,
      kind: 'lock-timeout',
    });
    expect(isEscalated(lock)).toBe(false);
    expect(runnerClassification(mysqlError(1205), 'mariadb', nested).retryable).toBe(true);
  });

  it('the owner of the transaction retries them; connection errors only when it can reconnect', () => {
    expect(runnerClassification(pgError('40001'), 'postgres', owner).retryable).toBe(true);
    expect(runnerClassification(pgError('57P01'), 'postgres', owner).retryable).toBe(false);
    expect(
      runnerClassification(pgError('57P01'), 'postgres', { ...owner, canReconnect: true }).retryable,
    ).toBe(true);
  });

  it('a connection lost during an unverified COMMIT is ambiguous: reported by execute, retried only when idempotent', () => {
    const lost = markCommitInFlight(Object.assign(new Error('Connection terminated unexpectedly'), {}));
    const source = { ...owner, canReconnect: true };
    // Left retryable so that execute itself reports AmbiguousCommitError, or retries when idempotent.
    expect(runnerClassification(lost, 'postgres', source)).toMatchObject({
      ambiguous: true,
      retryable: true,
    });
    expect(runnerClassification(lost, 'postgres', owner)).toMatchObject({
      ambiguous: true,
      retryable: false,
    });
    const unverified = new AmbiguousCommitError('commit', { cause: lost });
    expect(runnerClassification(unverified, 'postgres', source).retryable).toBe(false);
    expect(runnerClassification(unverified, 'postgres', { ...source, idempotent: true }).retryable).toBe(
      true,
    );
  });
});
