import { describe, expect, it } from 'vitest';
import { coreClassifier } from '../../../src/core/core-classifier.js';
import {
  AmbiguousCommitError,
  AttemptTimeoutError,
  coreErrorCodes,
  DbopError,
  DeadlineExceededError,
  isAmbiguousCommitError,
  isAttemptTimeoutError,
  isDbopError,
  isDeadlineExceededError,
} from '../../../src/core/errors.js';

describe('core errors', () => {
  it('keep the stable codes the classifier matches on', () => {
    expect(coreErrorCodes).toEqual({
      attemptTimeout: 'DBOP_ATTEMPT_TIMEOUT',
      deadlineExceeded: 'DBOP_DEADLINE_EXCEEDED',
      ambiguousCommit: 'DBOP_AMBIGUOUS_COMMIT',
    });
    const cause = new Error('socket hang up');
    const errors = [
      new AttemptTimeoutError('load', 2, 500),
      new DeadlineExceededError('load', 1000, { cause }),
      new AmbiguousCommitError('transfer', { cause }),
    ];
    expect(errors.map((e) => [e.name, e.code])).toEqual([
      ['AttemptTimeoutError', 'DBOP_ATTEMPT_TIMEOUT'],
      ['DeadlineExceededError', 'DBOP_DEADLINE_EXCEEDED'],
      ['AmbiguousCommitError', 'DBOP_AMBIGUOUS_COMMIT'],
    ]);
    expect(errors[0]!.message).toBe('load: attempt 2 timed out after 500 ms');
    expect(errors[1]!.cause).toBe(cause);
    expect(errors.every((e) => e instanceof DbopError && isDbopError(e))).toBe(true);
  });

  it('guards recognise an error made by another copy of dbop (same Symbol.for brand, other class)', () => {
    const foreign = Object.defineProperty(
      Object.assign(new Error('x'), { code: 'DBOP_ATTEMPT_TIMEOUT' }),
      Symbol.for('dbop.error'),
      {
        value: true,
      },
    );
    expect(isAttemptTimeoutError(foreign)).toBe(true);
    expect(isDeadlineExceededError(foreign)).toBe(false);
    expect(isAmbiguousCommitError(Object.assign(new Error('x'), { code: 'DBOP_AMBIGUOUS_COMMIT' }))).toBe(
      false,
    );
  });
});

describe('coreClassifier', () => {
  it("classifies dbop's own errors and retries everything else", () => {
    expect(coreClassifier(new AttemptTimeoutError('x', 1, 1))).toMatchObject({
      kind: 'attempt-timeout',
      retryable: true,
    });
    expect(coreClassifier(new DeadlineExceededError('x', 1))).toMatchObject({ retryable: false });
    expect(coreClassifier(new AmbiguousCommitError('x', {}))).toMatchObject({
      retryable: false,
      ambiguous: true,
    });
    expect(coreClassifier(new DOMException('stop', 'AbortError'))).toMatchObject({
      kind: 'cancelled',
      retryable: false,
    });
    expect(coreClassifier(new Error('anything'))).toBe(true);
    expect(coreClassifier('a string')).toBe(true);
  });
});
