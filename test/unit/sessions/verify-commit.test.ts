import { describe, expect, it } from 'vitest';
import { isAmbiguousCommitError } from '../../../src/core/errors.js';
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
});
