import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { type HaCluster, haEnabled, startHaCluster } from '../../support/harness/ha/ha-cluster.js';
import {
  auditLedger,
  createLedger,
  describeGap,
  serversInSequence,
  transfersDuring,
  type WorkloadOutcome,
} from './transfer-workload.js';

// Issue 11: the same Patroni cluster reached without HAProxy, through a multi-host URL naming the three
// members (dbop's connection layer finds the leader itself), createDatabase's default settings otherwise.
// Bounds as in patroni-failover.test.ts: Patroni takes 5 to 25 s here, the test waits up to 300 s.
const faultTestMs = 300_000;

describe.skipIf(!haEnabled)('Patroni through a multi-host URL (DBOP_HA=1)', () => {
  let cluster: HaCluster | undefined;
  let db: Database | undefined;
  beforeAll(async () => {
    cluster = await startHaCluster(3);
    db = await createDatabase(cluster.multiHostUrl());
  });
  beforeEach(() => createLedger(db!));
  afterAll(async () => {
    await db?.close();
    await cluster?.destroy();
  });

  async function audited(outcome: WorkloadOutcome & { resumed: number }, label: string): Promise<void> {
    const leader = await cluster!.leader();
    const audit = await auditLedger(leader.urlFor(), outcome);
    console.log(label, {
      committed: outcome.committed.length,
      ambiguous: outcome.ambiguous.length,
      ...describeGap(outcome),
    });
    expect({ lost: audit.lost, doubled: audit.doubled, failedButApplied: audit.failedButApplied }).toEqual({
      lost: [],
      doubled: [],
      failedButApplied: [],
    });
    expect([audit.unknown, audit.balanceDrift, audit.accountsOff]).toEqual([0, 0, 0]);
    // No demoted leader took a write after its successor's first one; the last writer leads now.
    expect(serversInSequence(audit.byServer)).toBe(true);
    expect(audit.byServer.at(-1)!.port).toBe(leader.port);
    expect(outcome.resumed).toBeGreaterThanOrEqual(50);
  }

  it(
    'a Patroni switchover: 0 lost, 0 doubled, no write on the demoted leader, resumes by itself',
    async () => {
      const old = await cluster!.leader();
      let next = old;
      const outcome = await transfersDuring(db!, async () => {
        next = await cluster!.switchover();
      });
      expect(next.name).not.toBe(old.name);
      await audited(outcome, 'multi-host switchover');
    },
    faultTestMs,
  );

  it(
    "the leader's node killed: 0 lost, 0 doubled, resumes by itself on the new leader",
    async () => {
      await cluster!.waitHealthy();
      const outcome = await transfersDuring(db!, async () => {
        const old = await cluster!.killLeader();
        await cluster!.waitForNewLeader(old);
      });
      await audited(outcome, 'multi-host leader kill');
    },
    faultTestMs,
  );
});
