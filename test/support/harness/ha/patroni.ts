import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { postgresBinDir } from '../binaries.js';
import { canConnect, freePort, isAlive, run, sleep, spawnLogged, waitForExit, waitForPort } from '../exec.js';

const user = 'postgres';

/** One member as Patroni's REST API (`GET /cluster`) reports it. */
export interface PatroniMember {
  readonly name: string;
  /** 'leader', 'replica', 'sync_standby', ... */
  readonly role: string;
  /** 'running', 'streaming', 'starting', 'stopped', ... */
  readonly state: string;
  readonly port: number;
  /** Replication lag in bytes, for replicas that report it. */
  readonly lag?: number | string;
  readonly timeline?: number;
}

/** How long to wait for Patroni to settle after a bootstrap, a switchover or a leader loss. */
const settleMs = 90_000;

/** One etcd (v2 API on, which Patroni's `etcd:` section speaks), on its own ports in `dir`. */
export class Etcd {
  readonly clientPort: number;
  readonly #dir: string;
  #pid: number | undefined;

  private constructor(dir: string, clientPort: number) {
    this.#dir = dir;
    this.clientPort = clientPort;
  }

  static async start(dir: string): Promise<Etcd> {
    const clientPort = await freePort();
    const peerPort = await freePort();
    const etcd = new Etcd(dir, clientPort);
    const client = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    etcd.#pid = await spawnLogged(
      '/usr/bin/etcd',
      [
        '--name=dbop',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=dbop=${peer}`,
        '--initial-cluster-state=new',
        '--enable-v2=true',
        // A test cluster: no fsync of its log either.
        '--unsafe-no-fsync',
      ],
      { logFile: join(dir, 'etcd.log'), user },
    );
    await waitForPort(clientPort, 60_000);
    return etcd;
  }

  async stop(): Promise<void> {
    const pid = this.#pid;
    if (pid === undefined || !isAlive(pid)) return;
    process.kill(pid, 'SIGTERM');
    await waitForExit(pid, 30_000).catch(() => process.kill(pid, 'SIGKILL'));
  }

  log(): Promise<string> {
    return readFile(join(this.#dir, 'etcd.log'), 'utf8').catch(() => '');
  }
}

/** One Patroni member: the Patroni daemon and the Postgres it manages. */
export class PatroniNode {
  readonly name: string;
  /** Postgres' port. */
  readonly port: number;
  /** Patroni's REST API port (HAProxy checks `GET /primary` there). */
  readonly restPort: number;
  readonly dir: string;
  #pid: number | undefined;

  constructor(name: string, dir: string, port: number, restPort: number) {
    this.name = name;
    this.dir = dir;
    this.port = port;
    this.restPort = restPort;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get configFile(): string {
    return join(this.dir, 'patroni.yml');
  }

  /** A superuser URL straight to this member's Postgres, bypassing HAProxy. */
  urlFor(database = 'dbop'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** Starts (or restarts) the Patroni daemon; it starts, bootstraps or re-joins its Postgres itself. */
  async start(): Promise<void> {
    this.#pid = await spawnLogged('/usr/bin/patroni', [this.configFile], {
      logFile: join(this.dir, 'patroni.out'),
      user,
      cwd: this.dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: this.dir, LANG: 'C.UTF-8' },
    });
    await waitForPort(this.restPort, 60_000);
  }

  /** True while the Patroni daemon runs. */
  get running(): boolean {
    return this.#pid !== undefined && isAlive(this.#pid);
  }

  /**
   * Stops through Patroni (SIGTERM): it shuts its Postgres down and exits. Stopping the postmaster behind
   * Patroni's back would only make Patroni start it again, and a Patroni killed first leaves its postmaster
   * running, re-parented to init.
   */
  async stop(): Promise<void> {
    const pid = this.#pid;
    if (pid !== undefined && isAlive(pid)) {
      process.kill(pid, 'SIGTERM');
      try {
        await waitForExit(pid, 60_000);
      } catch {
        process.kill(pid, 'SIGKILL');
      }
    }
    await this.killPostmaster();
  }

  /**
   * The loss of the whole node: SIGKILL to Patroni first (so it cannot restart anything), then to the
   * postmaster. Its leader key in etcd expires after `ttl`; then a replica takes over.
   */
  async kill(): Promise<void> {
    const pid = this.#pid;
    if (pid !== undefined && isAlive(pid)) {
      process.kill(pid, 'SIGKILL');
      await waitForExit(pid);
    }
    await this.killPostmaster();
  }

  /** SIGKILL to a postmaster still running in this member's data directory, and wait until it is gone. */
  async killPostmaster(): Promise<void> {
    const pid = await this.postmasterPid();
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    await waitForExit(pid);
    // Its backends exit on their own once they notice; wait for the port to be free again.
    for (let i = 0; i < 100 && (await canConnect(this.port)); i++) await sleep(100);
  }

  async postmasterPid(): Promise<number | undefined> {
    try {
      const pid = Number((await readFile(join(this.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** GET or POST on this member's REST API; `undefined` when it does not answer. */
  async rest(path: string, init?: { method: string; body: unknown }): Promise<Response | undefined> {
    try {
      return await fetch(`http://127.0.0.1:${this.restPort}${path}`, {
        method: init?.method ?? 'GET',
        ...(init === undefined
          ? {}
          : { body: JSON.stringify(init.body), headers: { 'content-type': 'application/json' } }),
        signal: AbortSignal.timeout(5_000),
      });
    } catch {
      return undefined;
    }
  }

  log(): Promise<string> {
    return readFile(join(this.dir, 'patroni.log'), 'utf8').catch(() => '');
  }
}

/** Patroni's settings for one member; JSON is valid YAML, so no YAML writer is needed. */
function patroniConfig(node: PatroniNode, etcdPort: number, bin: string): unknown {
  return {
    scope: 'dbop',
    name: node.name,
    log: { dir: node.dir, level: 'INFO' },
    restapi: {
      listen: `127.0.0.1:${node.restPort}`,
      // Patroni's --validate-config rejects 127.0.0.1 here, but runs with it.
      connect_address: `127.0.0.1:${node.restPort}`,
    },
    etcd: { host: `127.0.0.1:${etcdPort}` },
    bootstrap: {
      dcs: {
        // Leader key lifetime, HA loop period, DCS/Postgres retry budget: a lost leader is replaced in
        // about ttl seconds. loop_wait + 2 * retry_timeout must stay <= ttl.
        ttl: 10,
        loop_wait: 1,
        retry_timeout: 4,
        // Without this, Patroni restarts a killed postmaster in place (for up to 300 s by default) instead
        // of failing over.
        primary_start_timeout: 0,
        maximum_lag_on_failover: 1_048_576,
        // A COMMIT is acknowledged once a synchronous standby has it, and only that standby may be
        // promoted: with asynchronous replication a leader loss can drop the last acknowledged commits,
        // whatever the client does.
        synchronous_mode: true,
        postgresql: {
          use_pg_rewind: true,
          use_slots: true,
          parameters: {
            wal_level: 'replica',
            hot_standby: 'on',
            wal_log_hints: 'on',
            max_wal_senders: 10,
            max_replication_slots: 10,
            wal_keep_size: '256MB',
            max_connections: 100,
            shared_buffers: '32MB',
            // Test servers trade durability for speed; failover tests still see real crash recovery.
            fsync: 'off',
            full_page_writes: 'on',
          },
        },
      },
      initdb: [{ encoding: 'UTF8' }, { locale: 'C' }, 'no-sync'],
      pg_hba: [
        'local all all trust',
        'host replication replicator 127.0.0.1/32 trust',
        'host all all 127.0.0.1/32 trust',
      ],
    },
    postgresql: {
      listen: `127.0.0.1:${node.port}`,
      connect_address: `127.0.0.1:${node.port}`,
      data_dir: node.dataDir,
      bin_dir: bin,
      pgpass: join(node.dir, 'pgpass'),
      authentication: {
        superuser: { username: 'postgres', password: 'dbop' },
        replication: { username: 'replicator', password: 'dbop' },
        rewind: { username: 'postgres', password: 'dbop' },
      },
      parameters: { unix_socket_directories: node.dir },
    },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  };
}

/** Writes each member's config and starts `size` Patroni members on one etcd, all in `dir`. */
export async function startPatroniMembers(dir: string, etcd: Etcd, size: number): Promise<PatroniNode[]> {
  const bin = postgresBinDir()!;
  const nodes: PatroniNode[] = [];
  for (let i = 1; i <= size; i++) {
    const nodeDir = join(dir, `m${i}`);
    await run('mkdir', ['-p', '-m', '0700', nodeDir]);
    await run('chown', [user, nodeDir]).catch(() => {});
    const node = new PatroniNode(`m${i}`, nodeDir, await freePort(), await freePort());
    await writeFile(node.configFile, JSON.stringify(patroniConfig(node, etcd.clientPort, bin), null, 2));
    await run('chown', [user, node.configFile]).catch(() => {});
    nodes.push(node);
  }
  // The first member bootstraps (initdb) alone; the others then clone it with pg_basebackup. Started
  // together they race for the initialize key, which works too but makes the timings noisier.
  await nodes[0]!.start();
  await waitFor(
    async () => (await clusterMembers(nodes)).some((m) => m.role === 'leader' && m.state === 'running'),
    'a leader',
  );
  await Promise.all(nodes.slice(1).map((n) => n.start()));
  return nodes;
}

/** The cluster as the first member that answers sees it. */
export async function clusterMembers(nodes: readonly PatroniNode[]): Promise<PatroniMember[]> {
  for (const node of nodes) {
    if (!node.running) continue;
    const response = await node.rest('/cluster');
    if (response?.ok !== true) continue;
    const body = (await response.json()) as { members?: PatroniMember[] };
    return body.members ?? [];
  }
  return [];
}

/** Polls `check` every 200 ms until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(
  check: () => Promise<boolean>,
  what: string,
  timeoutMs: number = settleMs,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`Patroni cluster: no ${what} after ${timeoutMs} ms`);
    await sleep(200);
  }
}
