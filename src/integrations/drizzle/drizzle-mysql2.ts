// The session subpath: 'drizzle-orm/mysql2' itself imports mysql2's createPool, which a user without mysql2 lacks.
import { MySql2Session, MySql2Transaction } from 'drizzle-orm/mysql2/session';
import type { AttemptContext } from '../../core/attempt.js';
import { isReusable, type Session, type SessionSource } from '../../core/session.js';
import { watchConnectionErrors } from '../../sessions/shared/mysql-family.js';
import { checkStatement } from '../shared/handle-steps.js';
import { type OrmQueryResult, ormConnectionSession, ormStatement } from '../shared/orm-connection-session.js';

/** The parts of a mysql2 Drizzle database dbop reads (Drizzle's session, dialect and promise pool). */
export interface Mysql2Drizzle {
  readonly $client: Mysql2Pool;
  readonly dialect: unknown;
  readonly session: {
    readonly schema: unknown;
    readonly options: {
      readonly logger?: { logQuery(query: string, params: unknown[]): void };
      readonly mode?: unknown;
    };
  };
}

interface Mysql2Pool {
  getConnection(): Promise<Mysql2Connection>;
  query(sql: string, params?: unknown[]): Promise<[unknown, unknown]>;
}

interface Mysql2Connection {
  query(options: unknown, params?: unknown): Promise<[unknown, unknown]>;
  execute(options: unknown, params?: unknown): Promise<[unknown, unknown]>;
  release(): void;
  destroy(): void;
  readonly threadId?: number;
  readonly connection?: {
    readonly _fatalError?: unknown;
    readonly _closing?: boolean;
    readonly _handshakePacket?: { readonly serverVersion?: string };
  };
  on?(event: 'error', listener: (error: unknown) => void): unknown;
  listeners?(event: 'error'): readonly unknown[];
}

/** True for a Drizzle database over mysql2 (a pool: `drizzle({ client: pool })`). */
export function isMysql2Drizzle(db: object): db is Mysql2Drizzle {
  const drizzle = db as Partial<Mysql2Drizzle>;
  return drizzle.session instanceof MySql2Session && typeof drizzle.$client?.getConnection === 'function';
}

/** Sessions over connections of the database's mysql2 pool; one in an unknown state is destroyed. */
export function mysql2Source(db: Mysql2Drizzle, verifyCommits: boolean): SessionSource {
  // drizzle(url) and drizzle({ client }) keep a callback pool as $client: its promise face, as Drizzle's own.
  const client = db.$client as Mysql2Pool & { promise?(): Mysql2Pool };
  const pool = typeof client.promise === 'function' ? client.promise() : client;
  const logger = db.session.options.logger;
  const sidecar = async (sql: string, params: readonly unknown[]) =>
    shape((await pool.query(sql, [...params]))[0]);
  return {
    async acquire() {
      const connection = await pool.getConnection();
      let broken = false;
      watchConnectionErrors(connection, () => {
        broken = true;
      });
      const version = connection.connection?._handshakePacket?.serverVersion ?? '';
      return ormConnectionSession({
        dialect: /mariadb/i.test(version) ? 'mariadb' : 'mysql',
        raw: connection,
        async run(sql, params) {
          logger?.logQuery(sql, [...params]);
          return shape((await connection.query(sql, [...params]))[0]);
        },
        sidecar,
        serverId: connection.threadId,
        isBroken: () =>
          broken || connection.connection?._closing === true || Boolean(connection.connection?._fatalError),
        verifyCommits,
        markerScope: client,
      });
    },
    async release(session) {
      const connection = session.raw as Mysql2Connection;
      // mysql2's pool drops a destroyed connection and opens a new one when needed.
      if (session.destroyed || !isReusable(session)) connection.destroy();
      else connection.release();
    },
  };
}

/** Drizzle's own MySql2Transaction over the session's connection, guarded: no BEGIN or COMMIT of Drizzle's. */
export function mysql2Transaction(db: Mysql2Drizzle, session: Session, attempt: AttemptContext): object {
  const connection = session.raw as Mysql2Connection;
  const guard = (send: Mysql2Connection['query']) =>
    function (this: unknown, options: unknown, params?: unknown) {
      try {
        checkStatement(
          typeof options === 'string' ? options : (options as { sql?: unknown } | null)?.sql,
          session,
          attempt,
        );
      } catch (error) {
        return Promise.reject(error);
      }
      return ormStatement(session, () => send.call(connection, options, params));
    };
  const guarded = Object.create(connection, {
    query: { value: guard(connection.query) },
    execute: { value: guard(connection.execute) },
  }) as Mysql2Connection;
  const options = db.session.options;
  const drizzleSession = new MySql2Session(
    guarded as never,
    db.dialect as never,
    db.session.schema as never,
    options as never,
  );
  return new MySql2Transaction(
    db.dialect as never,
    drizzleSession as never,
    db.session.schema as never,
    0,
    options.mode as never,
  );
}

function shape(result: unknown): OrmQueryResult {
  if (Array.isArray(result)) return { rows: result as Record<string, unknown>[], rowCount: result.length };
  const header = result as { affectedRows?: number } | null;
  return { rows: [], rowCount: Number(header?.affectedRows ?? 0), original: result };
}
