import { existsSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { canConnect, isAlive } from '../../support/harness/exec.js';
import { type HaCluster, haEnabled, startHaCluster } from '../../support/harness/ha/ha-cluster.js';
import {
  auditLedger,
  createLedger,
  describeGap,
  serversInSequence,
  transfersDuring,
  type WorkloadOutcome,
} from './transfer-workload.js';

// Issue 11: a Patroni cluster (etcd, three members of Debian's Postgres, synchronous mode) behind HAProxy,
// and a transfer workload through createDatabase with its default settings on HAProxy's single-host URL.
// A planned switchover, then the loss of the leader's node: nothing acknowledged is lost or applied twice,
// no demoted primary takes a write after the new one did, and the same Database carries on by itself.
// A fault test waits for Patroni (up to 90 s for a new leader, 90 s for the replicas to stream again) and
// for 50 acknowledgements afterwards (up to 60 s): bounded well past the 10 to 25 s they take here.
const faultTestMs = 300_000;

describe.skipIf(!haEnabled)(
  'Patroni + HAProxy: transfers through a switchover and a leader loss (DBOP_HA=1)',
  () => {
    let cluster: HaCluster | undefined;
    let db: Database | undefined;
    beforeAll(async () => {
      cluster = await startHaCluster(3);
      console.log('HA cluster start, ms:', cluster.timings);
      db = await createDatabase(cluster.haproxy.urlFor());
    });
    // A fresh ledger per test: each audit covers its own fault only.
    beforeEach(() => createLedger(db!));
    afterAll(async () => {
      await db?.close();
      await cluster?.destroy();
    });

    async function expectClean(
      outcome: WorkloadOutcome & { resumed: number },
      label: string,
      ports: readonly number[],
    ): Promise<void> {
      const leader = await cluster!.leader();
      const audit = await auditLedger(leader.urlFor(), outcome);
      console.log(label, {
        committed: outcome.committed.length,
        ambiguous: outcome.ambiguous.length,
        ambiguousApplied: audit.ambiguousApplied,
        failed: outcome.failed.length,
        resumed: outcome.resumed,
        ...describeGap(outcome),
        byServer: audit.byServer.map((s) => ({ port: s.port, rows: s.rows })),
      });
      expect(audit.lost).toEqual([]);
      expect(audit.doubled).toEqual([]);
      expect(audit.failedButApplied).toEqual([]);
      // Only the ambiguous ones may be in the ledger without the client having heard "committed".
      expect(audit.unknown).toBe(0);
      expect(audit.balanceDrift).toBe(0);
      expect(audit.accountsOff).toBe(0);
      expect(serversInSequence(audit.byServer)).toBe(true);
      // Every server that took writes is a cluster member, and the last one to do so leads now.
      expect(audit.byServer.every((s) => ports.includes(s.port))).toBe(true);
      expect(audit.byServer.at(-1)!.port).toBe(leader.port);
      expect(outcome.resumed).toBeGreaterThanOrEqual(50);
    }

    it('starts as one leader, two streaming replicas (one synchronous), HAProxy and pgbouncer on the leader', async () => {
      const members = await cluster!.members();
      expect(members.map((m) => m.role).sort()).toEqual(['leader', 'replica', 'sync_standby']);
      const leader = await cluster!.leader();
      expect(await cluster!.haproxy.routedTo()).toBe(leader.name);
      // Through pgbouncer, then HAProxy: the leader's Postgres answers, as a primary.
      const through = await createDatabase({ url: cluster!.pgbouncer.urlFor(), transactionPooler: true });
      try {
        const { rows } = await through.query<{ port: number; standby: boolean }>(
          'SELECT inet_server_port() AS port, pg_is_in_recovery() AS standby',
        );
        expect(rows).toEqual([{ port: leader.port, standby: false }]);
      } finally {
        await through.close();
      }
    });

    it(
      'a Patroni switchover: 0 lost, 0 doubled, no write on the demoted leader, resumes by itself',
      async () => {
        const ports = cluster!.nodes.map((n) => n.port);
        const old = await cluster!.leader();
        let next = old;
        let switchMs = 0;
        const outcome = await transfersDuring(db!, async () => {
          const started = Date.now();
          next = await cluster!.switchover();
          switchMs = Date.now() - started;
        });
        console.log(
          `switchover ${old.name} -> ${next.name}: ${switchMs} ms until HAProxy routes to the new leader`,
        );
        expect(next.name).not.toBe(old.name);
        await expectClean(outcome, 'switchover', ports);
        // Writes went to the old leader, then to the new one.
        const audit = await auditLedger(next.urlFor(), outcome);
        expect(audit.byServer.map((s) => s.port)).toEqual(
          audit.byServer.length === 1 ? [next.port] : [old.port, next.port],
        );
      },
      faultTestMs,
    );

    it(
      "the leader's node killed (Patroni and postmaster): 0 lost, 0 doubled, resumes by itself",
      async () => {
        const ports = cluster!.nodes.map((n) => n.port);
        await cluster!.waitHealthy();
        let failoverMs = 0;
        let killed: string | undefined;
        const outcome = await transfersDuring(db!, async () => {
          const started = Date.now();
          const old = await cluster!.killLeader();
          killed = old.name;
          const next = await cluster!.waitForNewLeader(old);
          failoverMs = Date.now() - started;
          console.log(
            `leader ${old.name} killed; ${next.name} leads and HAProxy routes to it after ${failoverMs} ms`,
          );
        });
        expect(killed).toBeDefined();
        await expectClean(outcome, 'leader kill', ports);
        // The killed node took no write after its successor's first one (checked above); nothing was written
        // after the kill on the killed node's port.
        const leader = await cluster!.leader();
        expect(leader.name).not.toBe(killed);
      },
      faultTestMs,
    );

    it(
      'through pgbouncer (transaction mode) and HAProxy, a switchover: 0 lost, 0 doubled, resumes by itself',
      async () => {
        // Two members are left after the leader loss; the switchover goes to the synchronous one.
        await cluster!.waitHealthy(2);
        const ports = cluster!.nodes.map((n) => n.port);
        const pooled = await createDatabase({ url: cluster!.pgbouncer.urlFor(), transactionPooler: true });
        try {
          const old = await cluster!.leader();
          let next = old;
          const outcome = await transfersDuring(pooled, async () => {
            next = await cluster!.switchover();
          });
          expect(next.name).not.toBe(old.name);
          await expectClean(outcome, 'switchover through pgbouncer', ports);
        } finally {
          await pooled.close();
        }
      },
      faultTestMs,
    );

    it('stops cleanly: every Patroni, postmaster, etcd, HAProxy and pgbouncer gone, the directory removed', async () => {
      const pids = (await Promise.all(cluster!.nodes.map((n) => n.postmasterPid()))).filter(
        (pid) => pid !== undefined,
      );
      expect(pids.length).toBeGreaterThanOrEqual(2);
      await db!.close();
      db = undefined;
      await cluster!.destroy();
      expect(pids.filter((pid) => isAlive(pid))).toEqual([]);
      expect(cluster!.nodes.filter((n) => n.running).map((n) => n.name)).toEqual([]);
      expect(existsSync(cluster!.dir)).toBe(false);
      expect(await canConnect(cluster!.haproxy.port)).toBe(false);
      expect(await canConnect(cluster!.pgbouncer.port)).toBe(false);
      expect(await canConnect(cluster!.etcd.clientPort)).toBe(false);
    });
  },
);
