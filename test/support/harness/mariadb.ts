import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureBinaries } from './binaries.js';
import { freePort, isAlive, run, spawnDaemon, tempDir, waitForExit, waitForPort } from './exec.js';

const user = 'mysql';
const password = 'dbop';

/** One private MariaDB server (optionally a Galera node). */
export class MariadbServer {
  readonly port: number;
  readonly dir: string;
  readonly #extraArgs: readonly string[];

  constructor(dir: string, port: number, extraArgs: readonly string[] = []) {
    this.dir = dir;
    this.port = port;
    this.#extraArgs = extraArgs;
  }

  /** root (full privileges) on 127.0.0.1 to the `dbop` database. */
  get url(): string {
    return this.urlFor('dbop');
  }

  /** root to another database, with the mysql: or mariadb: scheme. */
  urlFor(database: string, scheme: 'mysql' | 'mariadb' = 'mysql'): string {
    return `${scheme}://root:${password}@127.0.0.1:${this.port}/${database}`;
  }

  get socket(): string {
    return join(this.dir, 'mysqld.sock');
  }

  /** Starts mariadbd and waits for its port; `extra` arguments apply to this start only. */
  async start(extra: readonly string[] = []): Promise<void> {
    spawnDaemon('/usr/sbin/mariadbd', [...this.#args(), ...this.#extraArgs, ...extra], user);
    await waitForPort(this.port, 60_000);
  }

  /**
   * A clean shutdown (SIGTERM). mariadbd ignores a SIGTERM that arrives while it is still starting up (seen
   * here right after a restart), so the signal is repeated each second; after 20 s, SIGKILL.
   */
  async stop(): Promise<void> {
    const pid = await this.pid();
    if (pid === undefined) return;
    for (let second = 0; second < 20; second++) {
      process.kill(pid, 'SIGTERM');
      try {
        await waitForExit(pid, 1_000);
        return;
      } catch {
        // still running: signal again
      }
    }
    process.kill(pid, 'SIGKILL');
    await waitForExit(pid);
  }

  async kill9(): Promise<void> {
    const pid = await this.pid();
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    await waitForExit(pid);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Runs SQL as root through the unix socket with the command-line client. */
  async sql(statement: string): Promise<string> {
    return run('mariadb', [
      '--no-defaults',
      '-uroot',
      `-p${password}`,
      `--socket=${this.socket}`,
      '-N',
      '-B',
      '-e',
      statement,
    ]);
  }

  async pid(): Promise<number | undefined> {
    try {
      const pid = Number((await readFile(join(this.dir, 'mysqld.pid'), 'utf8')).trim());
      return Number.isInteger(pid) && isAlive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  async destroy(): Promise<void> {
    await this.kill9().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }

  #args(): string[] {
    return [
      '--no-defaults',
      `--datadir=${join(this.dir, 'data')}`,
      `--socket=${this.socket}`,
      `--pid-file=${join(this.dir, 'mysqld.pid')}`,
      `--log-error=${join(this.dir, 'error.log')}`,
      `--port=${this.port}`,
      '--bind-address=127.0.0.1',
      `--user=${user}`,
      '--skip-name-resolve',
      '--innodb-buffer-pool-size=64M',
      '--innodb-log-file-size=16M',
      // Test servers trade durability for speed.
      '--innodb-flush-log-at-trx-commit=0',
      '--innodb-doublewrite=0',
      '--max-connections=200',
    ];
  }
}

/** Creates and starts a private MariaDB server with root:dbop on 127.0.0.1 and a `dbop` database. */
export async function startMariadb(extraArgs: readonly string[] = []): Promise<MariadbServer> {
  await ensureBinaries('mariadb');
  const dir = await tempDir('dbop-mariadb-', user);
  const server = new MariadbServer(dir, await freePort(), extraArgs);
  try {
    await initDataDir(dir);
    await server.start();
    await run('mariadb', ['--no-defaults', '-uroot', `--socket=${server.socket}`, '-e', bootstrapSql]);
    return server;
  } catch (error) {
    await server.destroy();
    throw error;
  }
}

const bootstrapSql = [
  `ALTER USER 'root'@'localhost' IDENTIFIED BY '${password}'`,
  `CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'`,
  `ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '${password}'`,
  `GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION`,
  'CREATE DATABASE dbop',
].join(';');

/** mariadb-install-db into dir/data, as the mysql user. */
export async function initDataDir(dir: string): Promise<void> {
  await writeFile(join(dir, '.keep'), '');
  await run(
    '/usr/bin/mariadb-install-db',
    [
      '--no-defaults',
      `--datadir=${join(dir, 'data')}`,
      `--user=${user}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      '--skip-name-resolve',
    ],
    { timeoutMs: 120_000 },
  );
}
