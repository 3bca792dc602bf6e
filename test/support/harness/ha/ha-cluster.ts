import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { ensureBinaries } from '../binaries.js';
import { run, tempDir } from '../exec.js';
import {
  clusterMembers,
  Etcd,
  type PatroniMember,
  type PatroniNode,
  startPatroniMembers,
  waitFor,
} from './patroni.js';
import { Haproxy, Pgbouncer } from './proxies.js';

export type { PatroniMember } from './patroni.js';

/** How long each part took to come up, ms. */
export interface HaStartTimings {
  readonly install: number;
  readonly etcd: number;
  /** First member bootstrapped and leader. */
  readonly leader: number;
  /** Both other members streaming from it. */
  readonly replicas: number;
  /** HAProxy routing to exactly the leader. */
  readonly haproxy: number;
  readonly pgbouncer: number;
  readonly total: number;
}

/**
 * A private Patroni cluster of Debian's Postgres: one etcd, `size` Patroni members (one leader, the others
 * streaming replicas), HAProxy routing to the leader and pgbouncer (transaction mode) in front of HAProxy,
 * all on free 127.0.0.1 ports in one temporary directory.
 */
export interface HaCluster {
  readonly dir: string;
  readonly etcd: Etcd;
  readonly nodes: readonly PatroniNode[];
  readonly haproxy: Haproxy;
  readonly pgbouncer: Pgbouncer;
  readonly timings: HaStartTimings;
  /**
   * A multi-host URL naming every member directly (no HAProxy), libpq style, for connect-layer failover:
   * `postgres://postgres@127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/dbop?target_session_attrs=read-write`.
   */
  multiHostUrl(database?: string): string;
  /** The members as Patroni reports them. */
  members(): Promise<PatroniMember[]>;
  /** The member that holds the leader key and runs, once Patroni agrees on one. */
  leader(): Promise<PatroniNode>;
  /**
   * A planned switchover to `candidate` (default: a streaming replica), through Patroni's REST API; resolves
   * once the new leader runs, HAProxy routes to it, and the old leader streams from it. Returns the new leader.
   */
  switchover(candidate?: string): Promise<PatroniNode>;
  /**
   * The loss of the leader's node (Patroni and postmaster SIGKILLed); resolves with the killed member
   * as soon as it is dead, without waiting for the failover.
   */
  killLeader(): Promise<PatroniNode>;
  /** Waits until a member other than `old` leads and HAProxy routes to it only; returns it. */
  waitForNewLeader(old: PatroniNode): Promise<PatroniNode>;
  /** Waits until `healthyCount` members run: one leader and the rest streaming. */
  waitHealthy(healthyCount?: number): Promise<void>;
  /** Stops everything through Patroni, then removes the directory. */
  destroy(): Promise<void>;
}

/** True when this run opted in to the HA engines (DBOP_HA=1; CI sets it). */
export const haEnabled: boolean = process.env.DBOP_HA === '1';

function streaming(m: PatroniMember): boolean {
  // Patroni 3.0 reports a replica's state as 'running' or, from 3.0.4 on, 'streaming'; the lag is known
  // once it receives WAL.
  return m.role !== 'leader' && (m.state === 'streaming' || m.state === 'running') && m.lag !== 'unknown';
}

export async function startHaCluster(size = 3): Promise<HaCluster> {
  const started = Date.now();
  let mark = started;
  const lap = (): number => {
    const now = Date.now();
    const elapsed = now - mark;
    mark = now;
    return elapsed;
  };
  await ensureBinaries('ha');
  const install = lap();
  const dir = await tempDir('dbop-ha-', 'postgres');
  let etcd: Etcd | undefined;
  let nodes: PatroniNode[] = [];
  let haproxy: Haproxy | undefined;
  let pgbouncer: Pgbouncer | undefined;
  const destroy = async (): Promise<void> => {
    await pgbouncer?.stop();
    await haproxy?.stop();
    // Replicas first, then the leader, so that none of them tries to take over while the others stop.
    const leaderName = (await clusterMembers(nodes).catch(() => [])).find((m) => m.role === 'leader')?.name;
    await Promise.allSettled(nodes.filter((n) => n.name !== leaderName).map((n) => n.stop()));
    await Promise.allSettled(nodes.filter((n) => n.name === leaderName).map((n) => n.stop()));
    // Anything that did not stop through Patroni goes now.
    await Promise.allSettled(nodes.map((n) => n.kill()));
    await etcd?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    etcd = await Etcd.start(dir);
    const etcdMs = lap();
    nodes = await startPatroniMembers(dir, etcd, size);
    const leaderMs = lap();
    const members = (): Promise<PatroniMember[]> => clusterMembers(nodes);
    const byName = (name: string): PatroniNode => {
      const node = nodes.find((n) => n.name === name);
      if (node === undefined) throw new Error(`no member named ${name}`);
      return node;
    };
    const waitHealthy = async (healthyCount = size): Promise<void> => {
      await waitFor(
        async () => {
          const all = await members();
          const leaders = all.filter((m) => m.role === 'leader' && m.state === 'running');
          // Synchronous mode: one of them is the synchronous standby, the only one Patroni promotes.
          const sync = all.filter((m) => m.role === 'sync_standby').length;
          return (
            leaders.length === 1 &&
            all.filter(streaming).length === healthyCount - 1 &&
            sync === (healthyCount > 1 ? 1 : 0)
          );
        },
        `leader with ${healthyCount - 1} streaming replicas, one synchronous`,
      );
    };
    await waitHealthy();
    const leader = async (): Promise<PatroniNode> => {
      let name: string | undefined;
      await waitFor(async () => {
        name = (await members()).find((m) => m.role === 'leader' && m.state === 'running')?.name;
        return name !== undefined;
      }, 'running leader');
      return byName(name!);
    };
    // The database every test uses, created once on the leader (replicated to the others).
    const first = await leader();
    await run(
      '/usr/bin/psql',
      ['-h', '127.0.0.1', '-p', String(first.port), '-U', 'postgres', '-qc', 'CREATE DATABASE dbop'],
      { user: 'postgres' },
    );
    const replicasMs = lap();
    const proxy = await Haproxy.start(dir, nodes);
    haproxy = proxy;
    await waitFor(async () => (await proxy.routedTo()) === first.name, 'HAProxy routing to the leader only');
    const haproxyMs = lap();
    const bouncerDir = join(dir, 'pgbouncer');
    await run('mkdir', ['-p', bouncerDir]);
    pgbouncer = await Pgbouncer.start(bouncerDir, proxy.port);
    await waitFor(() => accepts(pgbouncer!.urlFor()), 'pgbouncer accepting queries');
    const pgbouncerMs = lap();
    const waitForNewLeader = async (old: PatroniNode): Promise<PatroniNode> => {
      let next: PatroniNode | undefined;
      await waitFor(async () => {
        const name = (await members()).find((m) => m.role === 'leader' && m.state === 'running')?.name;
        if (name === undefined || name === old.name || (await proxy.routedTo()) !== name) return false;
        next = byName(name);
        return true;
      }, `new leader in place of ${old.name}`);
      return next!;
    };
    return {
      dir,
      etcd,
      nodes,
      haproxy: proxy,
      pgbouncer,
      timings: {
        install,
        etcd: etcdMs,
        leader: leaderMs,
        replicas: replicasMs,
        haproxy: haproxyMs,
        pgbouncer: pgbouncerMs,
        total: Date.now() - started,
      },
      members,
      multiHostUrl: (database = 'dbop') =>
        `postgres://postgres@${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}/${database}?target_session_attrs=read-write`,
      leader,
      waitHealthy,
      waitForNewLeader,
      async switchover(candidate?: string): Promise<PatroniNode> {
        const old = await leader();
        // In synchronous mode Patroni only switches over to the synchronous standby.
        const all = await members();
        const target =
          candidate ?? (all.find((m) => m.role === 'sync_standby') ?? all.find((m) => streaming(m)))?.name;
        if (target === undefined) throw new Error('switchover: no streaming replica to switch to');
        const response = await old.rest('/switchover', {
          method: 'POST',
          body: { leader: old.name, candidate: target },
        });
        if (response?.ok !== true) {
          throw new Error(`switchover refused: ${response?.status} ${await response?.text()}`);
        }
        const next = await waitForNewLeader(old);
        // Every member still running streams again, the old leader included.
        await waitHealthy(nodes.filter((n) => n.running).length);
        return next;
      },
      async killLeader(): Promise<PatroniNode> {
        const old = await leader();
        await old.kill();
        return old;
      },
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}

/** True when a plain query through `url` succeeds now. */
async function accepts(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}
