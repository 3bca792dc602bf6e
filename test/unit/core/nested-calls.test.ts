import { describe, expect, it } from 'vitest';
import { execute } from '../../../src/execute.js';
import { withRetry } from '../../../src/retry-decorators.js';

const policy = { maxRetries: 5, initialDelayMs: 0, maxDelayMs: 0, jitter: 'none' } as const;
const transient = (): Error => Object.assign(new Error('could not serialize access'), { code: '40001' });

// E14 across calls: a call started inside another call's attempt draws its retries from that call, so both
// allowed 5 retries make 6 attempts in all (before: 6 inner attempts per outer attempt, 36).
describe('a call nested in another call (E14)', () => {
  it('execute(() => withRetry(f)()): maxRetries + 1 attempts in all', async () => {
    let attempts = 0;
    const inner = withRetry(
      async () => {
        attempts++;
        throw transient();
      },
      { policy },
    );
    const error = await execute(() => inner(), { policy }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('40001');
    expect(attempts).toBe(6);
  });

  it('withRetry(() => execute(f)): maxRetries + 1 attempts in all', async () => {
    let attempts = 0;
    const outer = withRetry(
      () =>
        execute(
          () => {
            attempts++;
            throw transient();
          },
          { policy },
        ),
      { policy },
    );
    await expect(outer()).rejects.toMatchObject({ code: '40001' });
    expect(attempts).toBe(6);
  });

  it('three levels of execute share the outermost allowance', async () => {
    let attempts = 0;
    const leaf = (): Promise<never> =>
      execute(
        () => {
          attempts++;
          throw transient();
        },
        { policy },
      );
    await expect(execute(() => execute(leaf, { policy }), { policy })).rejects.toMatchObject({
      code: '40001',
    });
    expect(attempts).toBe(6);
  });

  it('the outer allowance spent, an inner call makes its one attempt and gives up with reason budget', async () => {
    const reasons: string[] = [];
    let calls = 0;
    const error = await execute(
      async (attempt) => {
        // The first inner call spends the outer's 2 retries; the outer cannot retry after it either.
        for (let i = 0; i < 2; i++) {
          await execute(
            () => {
              calls++;
              throw transient();
            },
            { policy, onGiveUp: (e) => reasons.push(e.reason) },
          ).catch(() => undefined);
        }
        if (attempt.attempt === 1) throw transient();
        return 'unreachable';
      },
      { policy: { ...policy, maxRetries: 2 }, onGiveUp: (e) => reasons.push(`outer ${e.reason}`) },
    ).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('40001');
    expect(calls).toBe(4);
    expect(reasons).toEqual(['budget', 'budget', 'outer budget']);
  });

  it("an inner call never runs past the outer call's deadline", async () => {
    const forever = { maxRetries: Number.POSITIVE_INFINITY, initialDelayMs: 1, maxDelayMs: 1 };
    let inner: { reason: string; elapsedMs: number } | undefined;
    const started = Date.now();
    await execute(
      () =>
        execute(
          async () => {
            await new Promise((resolve) => setTimeout(resolve, 10));
            throw transient();
          },
          {
            policy: forever,
            deadlineMs: 3000,
            onGiveUp: ({ reason }) => (inner = { reason, elapsedMs: Date.now() - started }),
          },
        ),
      { policy: forever, deadlineMs: 200 },
    ).catch(() => undefined);
    await expect.poll(() => inner, { timeout: 10_000 }).toBeDefined();
    // Ended by what was left of the outer 200 ms, not by its own 3 s (generous bound: a loaded machine).
    expect(inner!.reason).toBe('deadline');
    expect(inner!.elapsedMs).toBeLessThan(2500);
  });

  it('calls one after the other, not nested, each have their own retries as before', async () => {
    let attempts = 0;
    const op = (): never => {
      attempts++;
      throw transient();
    };
    await execute(op, { policy }).catch(() => undefined);
    await execute(op, { policy }).catch(() => undefined);
    expect(attempts).toBe(12);
  });
});
