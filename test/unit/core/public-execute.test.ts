import { describe, expect, expectTypeOf, it } from 'vitest';
import { markCommitInFlight } from '../../../src/core/commit-marker.js';
import { isAmbiguousCommitError } from '../../../src/core/errors.js';
import { execute } from '../../../src/execute.js';
import { FakeClock } from './fake-clock.js';
import { alwaysFailing, scripted, untilAborted } from './helpers.js';

const zero = { initialDelayMs: 0, maxDelayMs: 0 } as const;

describe("execute from 'dbop' (classify() as the default classifier)", () => {
  it('retries a transient database error', async () => {
    const serialization = Object.assign(new Error('could not serialize access'), {
      code: '40001',
      severity: 'ERROR',
    });
    const op = scripted('ok', serialization);
    await expect(execute(op, { policy: zero })).resolves.toBe('ok');
    expect(op.contexts).toHaveLength(2);
  });

  it('does not retry a programming error (unknown to classify)', async () => {
    const op = alwaysFailing(new TypeError('undefined is not a function'));
    await expect(execute(op, { policy: zero })).rejects.toBeInstanceOf(TypeError);
    expect(op.calls).toBe(1);
  });

  it("retries dbop's own attempt timeout", async () => {
    const clock = new FakeClock(0);
    let calls = 0;
    const result = execute((c) => (++calls === 1 ? untilAborted(c) : 'ok'), { clock, attemptTimeoutMs: 10 });
    await expect(clock.settle(result)).resolves.toBe('ok');
  });

  it('still takes a classifier given by the caller', async () => {
    const op = scripted('ok', new TypeError('retry me anyway'));
    await expect(execute(op, { classifier: () => true, policy: zero })).resolves.toBe('ok');
  });
});

describe("execute from 'dbop': a connection lost mid-op (E9)", () => {
  // What node-postgres gives when the socket dies under a query.
  const lost = (): Error => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104 });

  it('treats an unscoped op that may write as an autocommit write: ambiguous, not retried', async () => {
    const error = lost();
    const op = scripted('ok', error);
    const thrown = await execute(op, { policy: zero }).catch((e: unknown) => e);
    expect(isAmbiguousCommitError(thrown)).toBe(true);
    expect((thrown as Error).cause).toBe(error);
    expect(op.contexts).toHaveLength(1);
  });

  it('retries it when the op says it only reads', async () => {
    const op = scripted('ok', lost());
    await expect(execute(op, { policy: zero, readOnly: true })).resolves.toBe('ok');
    expect(op.contexts).toHaveLength(2);
  });

  it('retries it when the op is idempotent', async () => {
    const op = scripted('ok', lost());
    await expect(execute(op, { policy: zero, idempotent: true })).resolves.toBe('ok');
    expect(op.contexts).toHaveLength(2);
  });

  it('retries a connect failure (nothing was sent) even for a write', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const op = scripted('ok', refused);
    await expect(execute(op, { policy: zero })).resolves.toBe('ok');
  });

  it('inside a scope, a loss before COMMIT is a plain connection loss, but one the session marked during COMMIT is ambiguous', async () => {
    const scope = () => ({ begin() {}, commit() {}, rollback() {} });
    const beforeCommit = scripted('ok', lost());
    await expect(execute(beforeCommit, { policy: zero, scope })).resolves.toBe('ok');
    const duringCommit = scripted('ok', markCommitInFlight(lost()));
    const thrown = await execute(duringCommit, { policy: zero, scope }).catch((e: unknown) => e);
    expect(isAmbiguousCommitError(thrown)).toBe(true);
    expect(duringCommit.contexts).toHaveLength(1);
  });
});

describe('execute types', () => {
  it('resolves to the op type, widened by `default` only when raises may be false', async () => {
    expectTypeOf(await execute(async () => 1)).toEqualTypeOf<number>();
    expectTypeOf(await execute(() => 'sync', { name: 'x', attemptTimeoutMs: 5 })).toEqualTypeOf<string>();
    expectTypeOf(await execute(async () => 1, { raises: false, default: null })).toEqualTypeOf<
      number | null
    >();
    expectTypeOf(await execute(async () => 1, { raises: false })).toEqualTypeOf<number | undefined>();
  });
});
