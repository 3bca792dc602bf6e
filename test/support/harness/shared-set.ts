import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { postgresBinDir } from './binaries.js';
import { canConnect } from './exec.js';
import { MariadbServer, startMariadb } from './mariadb.js';
import { PgServer, startPostgres } from './postgres.js';

/** What tests receive: URLs of the shared servers, or the reason they could not be started. */
export interface ServerInfo {
  readonly postgres?: { readonly primary: NodeInfo; readonly standbys: readonly NodeInfo[] };
  readonly mariadb?: NodeInfo;
  /** Why some servers are missing; absent when all started. */
  readonly reason?: string;
}

export interface NodeInfo {
  readonly url: string;
  readonly port: number;
}

/** What the state file keeps so another process can find, reuse and stop the servers. */
export interface State {
  readonly postgres?: { baseDir: string; primary: Saved; standbys: Saved[] };
  readonly mariadb?: { dir: string; port: number };
}

interface Saved {
  readonly dataDir: string;
  readonly port: number;
}

export const stateFile: string = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  '.test-servers',
  'state.json',
);

/** A running shared set: what tests get, and how to stop it. */
export interface SharedSet {
  readonly info: ServerInfo;
  readonly state: State;
  stop(): Promise<void>;
}

/** Starts the Postgres trio and MariaDB side by side; a part that fails is reported in `reason`. */
export async function startSharedSet(): Promise<SharedSet> {
  const [pg, maria] = await Promise.allSettled([startPostgres({ standbys: 2 }), startMariadb()]);
  const reasons: string[] = [];
  if (pg.status === 'rejected') reasons.push(`PostgreSQL: ${message(pg.reason)}`);
  if (maria.status === 'rejected') reasons.push(`MariaDB: ${message(maria.reason)}`);
  const cluster = pg.status === 'fulfilled' ? pg.value : undefined;
  const mariadb = maria.status === 'fulfilled' ? maria.value : undefined;
  const state: State = {
    ...(cluster && {
      postgres: {
        baseDir: cluster.baseDir,
        primary: { dataDir: cluster.primary.dataDir, port: cluster.primary.port },
        standbys: cluster.standbys.map((s) => ({ dataDir: s.dataDir, port: s.port })),
      },
    }),
    ...(mariadb && { mariadb: { dir: mariadb.dir, port: mariadb.port } }),
  };
  return {
    info: { ...toInfo(state), ...(reasons.length > 0 && { reason: reasons.join('; ') }) },
    state,
    stop: async () => {
      await Promise.allSettled([cluster?.destroy(), mariadb?.destroy()]);
    },
  };
}

/** Writes the state file so tests in other processes reuse these servers. */
export async function saveState(set: SharedSet): Promise<void> {
  await mkdir(dirname(stateFile), { recursive: true });
  await writeFile(stateFile, JSON.stringify(set.state, null, 2));
}

/** The servers a previous `test-servers start` left running, if they still answer. */
export async function loadRunningSet(): Promise<SharedSet | undefined> {
  let state: State;
  try {
    state = JSON.parse(await readFile(stateFile, 'utf8')) as State;
  } catch {
    return undefined;
  }
  const ports = [
    ...(state.postgres ? [state.postgres.primary.port, ...state.postgres.standbys.map((s) => s.port)] : []),
    ...(state.mariadb ? [state.mariadb.port] : []),
  ];
  const alive = ports.length > 0 && (await Promise.all(ports.map(canConnect))).every(Boolean);
  const stop = async (): Promise<void> => {
    const bin = postgresBinDir();
    const pg = state.postgres;
    if (pg && bin) {
      const nodes = [pg.primary, ...pg.standbys].map((s) => new PgServer(bin, s.dataDir, s.port, 'primary'));
      await Promise.allSettled(nodes.map((n) => n.stop('immediate')));
      await rm(pg.baseDir, { recursive: true, force: true });
    }
    if (state.mariadb) await new MariadbServer(state.mariadb.dir, state.mariadb.port).destroy();
    await rm(stateFile, { force: true });
  };
  if (!alive) {
    await stop();
    return undefined;
  }
  return { info: toInfo(state), state, stop };
}

function toInfo(state: State): ServerInfo {
  const pgNode = (s: Saved): NodeInfo => ({
    url: `postgres://postgres@127.0.0.1:${s.port}/dbop`,
    port: s.port,
  });
  return {
    ...(state.postgres && {
      postgres: { primary: pgNode(state.postgres.primary), standbys: state.postgres.standbys.map(pgNode) },
    }),
    ...(state.mariadb && {
      mariadb: { url: `mysql://root:dbop@127.0.0.1:${state.mariadb.port}/dbop`, port: state.mariadb.port },
    }),
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}
