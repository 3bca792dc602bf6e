import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, isAlive, run, spawnLogged, waitForExit, waitForPort } from '../exec.js';
import type { PatroniNode } from './patroni.js';

/** One server line of HAProxy's stats for the `primary` proxy. */
export interface HaproxyServer {
  readonly name: string;
  /** 'UP', 'DOWN', 'UP 1/2', 'no check', ... */
  readonly status: string;
  /** The last health check's result: 'L7OK', 'L7STS', 'L4CON', ... */
  readonly check: string;
}

/** A daemon started by this harness and stopped by its pid. */
abstract class Daemon {
  protected pid: number | undefined;

  async stop(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined || !isAlive(pid)) return;
    process.kill(pid, 'SIGTERM');
    await waitForExit(pid, 30_000).catch(() => process.kill(pid, 'SIGKILL'));
  }
}

/**
 * HAProxy on one 127.0.0.1 port, forwarding to whichever member answers 200 on Patroni's `GET /primary`;
 * a stats page on another port. Connections to a member marked down are cut (`on-marked-down
 * shutdown-sessions`), so clients do not stay on a demoted primary.
 */
export class Haproxy extends Daemon {
  readonly port: number;
  readonly statsPort: number;
  readonly #dir: string;

  private constructor(dir: string, port: number, statsPort: number) {
    super();
    this.#dir = dir;
    this.port = port;
    this.statsPort = statsPort;
  }

  static async start(dir: string, nodes: readonly PatroniNode[]): Promise<Haproxy> {
    const haproxy = new Haproxy(dir, await freePort(), await freePort());
    const config = join(dir, 'haproxy.cfg');
    await writeFile(config, haproxyConfig(haproxy.port, haproxy.statsPort, nodes));
    await run('/usr/sbin/haproxy', ['-c', '-q', '-f', config]);
    // -db: stay in the foreground (the pid is HAProxy's own); -Ws would fork a master.
    haproxy.pid = await spawnLogged('/usr/sbin/haproxy', ['-db', '-f', config], {
      logFile: join(dir, 'haproxy.log'),
    });
    await waitForPort(haproxy.port, 30_000);
    await waitForPort(haproxy.statsPort, 30_000);
    return haproxy;
  }

  /** A superuser URL through HAProxy (to the leader). */
  urlFor(database = 'dbop'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** The `primary` proxy's servers as the stats page shows them now. */
  async servers(): Promise<HaproxyServer[]> {
    const response = await fetch(`http://127.0.0.1:${this.statsPort}/;csv`, {
      signal: AbortSignal.timeout(5_000),
    });
    const [header, ...lines] = (await response.text()).trim().split('\n');
    const columns = (header ?? '').replace(/^# /, '').split(',');
    const at = (name: string): number => columns.indexOf(name);
    return lines
      .map((line) => line.split(','))
      .filter((f) => f[at('pxname')] === 'primary' && !['FRONTEND', 'BACKEND'].includes(f[at('svname')]!))
      .map((f) => ({
        name: f[at('svname')]!,
        status: f[at('status')]!,
        check: f[at('check_status')]!,
      }));
  }

  /**
   * The one member routed to, once exactly one server is UP after a real check and every other is DOWN:
   * servers count as UP before their first check, so "one UP" alone proves nothing at startup.
   */
  async routedTo(): Promise<string | undefined> {
    const servers = await this.servers().catch(() => []);
    const up = servers.filter((s) => s.status === 'UP' && s.check === 'L7OK');
    const down = servers.filter((s) => s.status === 'DOWN');
    return up.length === 1 && up.length + down.length === servers.length ? up[0]!.name : undefined;
  }

  log(): Promise<string> {
    return readFile(join(this.#dir, 'haproxy.log'), 'utf8').catch(() => '');
  }
}

function haproxyConfig(port: number, statsPort: number, nodes: readonly PatroniNode[]): string {
  return [
    'global',
    '  maxconn 400',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 30m',
    '  timeout server 30m',
    '  timeout check 2s',
    'listen stats',
    `  bind 127.0.0.1:${statsPort}`,
    '  mode http',
    '  stats enable',
    '  stats uri /',
    'listen primary',
    `  bind 127.0.0.1:${port}`,
    '  option httpchk GET /primary',
    '  http-check expect status 200',
    // Checked every 500 ms; two failures mark a server down (then its sessions are cut), one success up.
    '  default-server inter 500ms fall 2 rise 1 on-marked-down shutdown-sessions',
    ...nodes.map((n) => `  server ${n.name} 127.0.0.1:${n.port} maxconn 100 check port ${n.restPort}`),
    '',
  ].join('\n');
}

/**
 * pgbouncer 1.18 in transaction pooling mode in front of a Postgres port (HAProxy's, in the HA cluster),
 * run as the postgres user (it refuses to run as root). Any database name is forwarded with `poolSize`
 * server connections; `dbop_single` reaches `dbop` through exactly one. Trust auth for `postgres`.
 */
export class Pgbouncer extends Daemon {
  readonly port: number;
  readonly #dir: string;

  private constructor(dir: string, port: number) {
    super();
    this.#dir = dir;
    this.port = port;
  }

  static async start(dir: string, upstreamPort: number, poolSize = 4): Promise<Pgbouncer> {
    const bouncer = new Pgbouncer(dir, await freePort());
    const config = join(dir, 'pgbouncer.ini');
    await writeFile(join(dir, 'userlist.txt'), '"postgres" ""\n');
    await writeFile(
      config,
      [
        '[databases]',
        // `dbop_single` shares one server connection among all its clients: what one client leaves on
        // it, the next one gets, every time.
        `dbop_single = host=127.0.0.1 port=${upstreamPort} dbname=dbop pool_size=1`,
        `* = host=127.0.0.1 port=${upstreamPort}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${bouncer.port}`,
        `unix_socket_dir = ${dir}`,
        'auth_type = trust',
        `auth_file = ${join(dir, 'userlist.txt')}`,
        'pool_mode = transaction',
        `default_pool_size = ${poolSize}`,
        'max_client_conn = 200',
        // The default DISCARD ALL runs only in session mode; transaction mode resets nothing between clients.
        'server_reset_query = DISCARD ALL',
        // A server connection to a demoted primary is dropped after the failover, not reused.
        'server_check_delay = 0',
        // After a failed server login (no leader behind HAProxy during a failover) pgbouncer refuses every
        // client with 08P01 "server login has been failing" for this long: the default 15 s stretches a
        // 5 s switchover past what a client rides out.
        'server_login_retry = 1',
        `logfile = ${join(dir, 'pgbouncer.log')}`,
        `pidfile = ${join(dir, 'pgbouncer.pid')}`,
        'admin_users = postgres',
        '',
      ].join('\n'),
    );
    await run('chown', ['-R', 'postgres', dir]).catch(() => {});
    bouncer.pid = await spawnLogged('/usr/sbin/pgbouncer', [config], {
      logFile: join(dir, 'pgbouncer.out'),
      user: 'postgres',
    });
    await waitForPort(bouncer.port, 30_000);
    return bouncer;
  }

  /** A URL through pgbouncer; `dbop_single` for the database that has one server connection. */
  urlFor(database = 'dbop'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  log(): Promise<string> {
    return readFile(join(this.#dir, 'pgbouncer.log'), 'utf8').catch(() => '');
  }
}
