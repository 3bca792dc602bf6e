import { appendFile, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureBinaries, postgresBinDir } from './binaries.js';
import { freePort, isAlive, run, sleep, tempDir, waitForExit } from './exec.js';

const user = 'postgres';

/** One private PostgreSQL server: primary or streaming standby. */
export class PgServer {
  readonly port: number;
  readonly dataDir: string;
  readonly #bin: string;
  #role: 'primary' | 'standby';

  constructor(bin: string, dataDir: string, port: number, role: 'primary' | 'standby') {
    this.#bin = bin;
    this.dataDir = dataDir;
    this.port = port;
    this.#role = role;
  }

  get role(): 'primary' | 'standby' {
    return this.#role;
  }

  /** A superuser URL (trust auth, no password) to the `dbop` database. */
  get url(): string {
    return this.urlFor('dbop');
  }

  /** A superuser URL to another database. */
  urlFor(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    await this.#pgCtl(['start', '-w', '-t', '60', '-l', join(this.dataDir, '..', `${this.port}.log`)]);
  }

  async stop(mode: 'smart' | 'fast' | 'immediate' = 'fast'): Promise<void> {
    await this.#pgCtl(['stop', '-w', '-t', '60', '-m', mode]);
  }

  async restart(): Promise<void> {
    await this.stop('fast');
    await this.start();
  }

  /** SIGKILL to the postmaster: the crash a power cut looks like. Children die with it. */
  async kill9(): Promise<void> {
    const pid = await this.pid();
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    await waitForExit(pid);
    // The backends notice the postmaster is gone and exit on their own; wait until the port is free.
    await sleep(100);
  }

  /** Promotes a standby to primary and waits until it accepts writes. */
  async promote(): Promise<void> {
    await this.#pgCtl(['promote', '-w', '-t', '60']);
    this.#role = 'primary';
  }

  /** The postmaster's pid, when it runs. */
  async pid(): Promise<number | undefined> {
    try {
      const first = (await readFile(join(this.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0];
      const pid = Number(first);
      return Number.isInteger(pid) && isAlive(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  async #pgCtl(args: readonly string[]): Promise<void> {
    await run(join(this.#bin, 'pg_ctl'), ['-D', this.dataDir, ...args], { user });
  }
}

/** A private primary with its streaming standbys, in one temporary directory. */
export interface PgCluster {
  readonly primary: PgServer;
  readonly standbys: readonly PgServer[];
  readonly baseDir: string;
  destroy(): Promise<void>;
}

const settings = (port: number, socketDir: string): string =>
  [
    `port = ${port}`,
    `listen_addresses = '127.0.0.1'`,
    `unix_socket_directories = '${socketDir}'`,
    'wal_level = replica',
    'max_wal_senders = 10',
    'wal_keep_size = 256MB',
    'hot_standby = on',
    'hot_standby_feedback = on',
    // Test servers trade durability for speed; crash tests still see real crash recovery.
    'fsync = off',
    'full_page_writes = off',
    'max_connections = 100',
    'shared_buffers = 32MB',
    "log_min_messages = 'fatal'",
    '',
  ].join('\n');

/** Starts a private PostgreSQL primary and `standbys` streaming standbys, each on its own 127.0.0.1 port. */
export async function startPostgres(options: { standbys?: number } = {}): Promise<PgCluster> {
  await ensureBinaries('postgres');
  const bin = postgresBinDir()!;
  const baseDir = await tempDir('dbop-pg-', user);
  const servers: PgServer[] = [];
  const destroy = async (): Promise<void> => {
    await Promise.allSettled(servers.map((s) => s.stop('immediate')));
    await rm(baseDir, { recursive: true, force: true });
  };
  try {
    const primaryDir = join(baseDir, 'primary');
    await run(
      join(bin, 'initdb'),
      ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { user },
    );
    const port = await freePort();
    await appendFile(join(primaryDir, 'postgresql.conf'), settings(port, baseDir));
    const primary = new PgServer(bin, primaryDir, port, 'primary');
    servers.push(primary);
    await primary.start();
    await run(
      join(bin, 'psql'),
      ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-qc', 'CREATE DATABASE dbop'],
      {
        user,
      },
    );
    const standbys = await Promise.all(
      Array.from({ length: options.standbys ?? 0 }, async (_, i) => {
        const dir = join(baseDir, `standby${i + 1}`);
        await run(
          join(bin, 'pg_basebackup'),
          [
            '-h',
            '127.0.0.1',
            '-p',
            String(port),
            '-U',
            'postgres',
            '-D',
            dir,
            '-R',
            '-X',
            'stream',
            '-c',
            'fast',
            '--no-sync',
          ],
          { user },
        );
        const standbyPort = await freePort();
        await appendFile(join(dir, 'postgresql.auto.conf'), `port = ${standbyPort}\n`);
        const standby = new PgServer(bin, dir, standbyPort, 'standby');
        servers.push(standby);
        await standby.start();
        return standby;
      }),
    );
    return { primary, standbys, baseDir, destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}
