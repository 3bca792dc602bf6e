import { describe, expect, it } from 'vitest';
import { isAmbiguousCommitError } from '../../../src/core/errors.js';
import { splitTransactionId } from '../../../src/dialects/postgres/postgres-commit-lookup.js';
import { verifyCommit } from '../../../src/sessions/shared/verify-commit.js';

describe('verifyCommit', () => {
  it('keeps asking while the server cannot be reached (a restart), and settles once it answers', async () => {
    let calls = 0;
    const lost = new Error('Connection terminated');
    await expect(
      verifyCommit(lost, async () => {
        calls += 1;
        if (calls < 3) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
        return 'committed';
      }),
    ).resolves.toBeUndefined();
    expect(calls).toBe(3);
  });

  it('is ambiguous once the server stayed out of reach for reachWithinMs', async () => {
    const lost = new Error('Connection terminated');
    const error = await verifyCommit(
      lost,
      async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      },
      { reachWithinMs: 300 },
    ).catch((e: unknown) => e);
    expect(isAmbiguousCommitError(error)).toBe(true);
  });

  it('is ambiguous at once when the server that answers holds another history (a failover), whatever it says', async () => {
    let calls = 0;
    const error = await verifyCommit(new Error('Connection terminated'), async () => {
      calls += 1;
      return 'other history';
    }).catch((e: unknown) => e);
    expect(isAmbiguousCommitError(error)).toBe(true);
    expect((error as Error).message).toMatch(/history/);
    expect(calls).toBe(1);
  });
});

describe('splitTransactionId', () => {
  it('splits xid@system/timeline and refuses an id without a timeline', () => {
    expect(splitTransactionId('741@7713942070141425514/00000002')).toEqual({
      xid: '741',
      origin: '7713942070141425514/00000002',
    });
    expect(splitTransactionId('741@7713942070141425514/')).toBeUndefined();
    expect(splitTransactionId('741')).toBeUndefined();
  });
});
