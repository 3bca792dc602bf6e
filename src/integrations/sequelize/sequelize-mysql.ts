import { isReusable, type SessionSource } from '../../core/session.js';
import { watchConnectionErrors } from '../../sessions/shared/mysql-family.js';
import { type OrmQueryResult, type OrmRun, ormConnectionSession } from '../shared/orm-connection-session.js';

/**
 * The connection Sequelize's 'mysql' dialect (a mysql2 callback Connection) or 'mariadb' dialect (a mariadb
 * promise Connection) hands out, as far as dbop reads it.
 */
export interface MysqlFamilyConnection {
  query(sql: string, params: unknown[], callback?: (error: unknown, result?: unknown) => void): unknown;
  destroy(): void;
  readonly threadId?: number | null;
  uuid?: unknown;
  // mysql2
  readonly _fatalError?: unknown;
  readonly _protocolError?: unknown;
  readonly _closing?: boolean;
  readonly _handshakePacket?: { readonly serverVersion?: string };
  // mariadb
  isValid?(): boolean;
  serverVersion?(): string;
  on?(event: 'error', listener: (error: unknown) => void): unknown;
  listeners?(event: 'error'): readonly unknown[];
}

/** Sequelize's connection manager: its pool hands connections out, takes them back, and destroys them. */
export interface ConnectionManager<Connection> {
  getConnection(options?: object): Promise<Connection>;
  releaseConnection(connection: Connection): Promise<void> | void;
  destroyConnection(connection: Connection): Promise<void>;
}

/**
 * Sessions over connections of Sequelize's own pool on its 'mysql' and 'mariadb' dialects: the flavour
 * comes from the server's version, and a connection in an unknown state is destroyed out of the pool.
 */
export function sequelizeMysqlSource(
  manager: ConnectionManager<MysqlFamilyConnection>,
  mariadbDriver: boolean,
  verifyCommits: boolean,
  log: (sql: string) => void,
): SessionSource {
  const runOn =
    (connection: MysqlFamilyConnection): OrmRun =>
    async (sql, params) => {
      if (mariadbDriver) return shape(await connection.query(sql, [...params]));
      return shape(
        await new Promise<unknown>((resolve, reject) => {
          connection.query(sql, [...params], (error, result) => (error ? reject(error) : resolve(result)));
        }),
      );
    };
  // Cancels and commit lookups take another connection of the same pool for one statement.
  const sidecar: OrmRun = async (sql, params) => {
    const connection = await manager.getConnection({});
    try {
      return await runOn(connection)(sql, params);
    } finally {
      await manager.releaseConnection(connection);
    }
  };
  return {
    async acquire() {
      const connection = await manager.getConnection({});
      let broken = false;
      watchConnectionErrors(connection, () => {
        broken = true;
      });
      const version = connection.serverVersion?.() ?? connection._handshakePacket?.serverVersion ?? '';
      const run = runOn(connection);
      return ormConnectionSession({
        dialect: /mariadb/i.test(version) ? 'mariadb' : 'mysql',
        raw: connection,
        async run(sql, params) {
          log(sql);
          return run(sql, params);
        },
        sidecar,
        serverId: connection.threadId ?? undefined,
        isBroken: () =>
          broken ||
          connection.isValid?.() === false ||
          connection._closing === true ||
          Boolean(connection._fatalError ?? connection._protocolError),
        verifyCommits,
        markerScope: manager,
      });
    },
    async release(session) {
      const connection = session.raw as MysqlFamilyConnection;
      connection.uuid = undefined;
      if (session.destroyed || !isReusable(session)) {
        // Closed first, so Sequelize's disconnect does not wait on a connection whose state is unknown.
        connection.destroy();
        await manager.destroyConnection(connection);
      } else await manager.releaseConnection(connection);
    },
  };
}

function shape(result: unknown): OrmQueryResult {
  if (Array.isArray(result)) return { rows: result as Record<string, unknown>[], rowCount: result.length };
  const header = result as { affectedRows?: number } | null;
  return { rows: [], rowCount: Number(header?.affectedRows ?? 0), original: result };
}
