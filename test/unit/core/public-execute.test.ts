import { describe, expect, expectTypeOf, it } from 'vitest';
import { execute } from '../../../src/execute.js';
import { FakeClock } from './fake-clock.js';
import { alwaysFailing, hang, scripted } from './helpers.js';

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
    const result = execute(() => (++calls === 1 ? hang() : 'ok'), { clock, attemptTimeoutMs: 10 });
    await expect(clock.settle(result)).resolves.toBe('ok');
  });

  it('still takes a classifier given by the caller', async () => {
    const op = scripted('ok', new TypeError('retry me anyway'));
    await expect(execute(op, { classifier: () => true, policy: zero })).resolves.toBe('ok');
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
