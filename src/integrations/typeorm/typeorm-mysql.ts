import type { DataSource, QueryRunner } from 'typeorm';
import { isReusable, type SessionSource } from '../../core/session.js';
import { watchConnectionErrors } from '../../sessions/shared/mysql-family.js';
import { type OrmQueryResult, ormConnectionSession } from '../shared/orm-connection-session.js';

/** The mysql2 (or mysql) callback connection a MySQL-family QueryRunner holds, as far as dbop reads it. */
interface MysqlConnection {
  query(sql: string, params: unknown[], callback: (error: unknown, result?: unknown) => void): unknown;
  release(): void;
  destroy(): void;
  readonly threadId?: number;
  readonly _fatalError?: unknown;
  readonly _closing?: boolean;
  readonly _handshakePacket?: { readonly serverVersion?: string };
  on?(event: 'error', listener: (error: unknown) => void): unknown;
  listeners?(event: 'error'): readonly unknown[];
}

/**
 * Sessions over QueryRunners of a DataSource on TypeORM's 'mysql' or 'mariadb' driver; the flavour comes
 * from the server's handshake (else the driver type), and a connection in an unknown state is destroyed,
 * which takes it out of the driver's pool.
 */
export function typeormMysqlSource(
  dataSource: DataSource,
  verifyCommits: boolean,
  onConnectionError: (queryRunner: QueryRunner, error: unknown) => void,
): SessionSource {
  const sidecar = async (sql: string, params: readonly unknown[]) =>
    shape(await dataSource.query(sql, [...params]));
  return {
    async acquire() {
      const queryRunner = dataSource.createQueryRunner();
      const connection = (await queryRunner.connect()) as MysqlConnection;
      let broken = false;
      watchConnectionErrors(connection, () => {
        broken = true;
      });
      connection.on?.('error', (error) => onConnectionError(queryRunner, error));
      const version = connection._handshakePacket?.serverVersion;
      const mariadb =
        version === undefined ? dataSource.options.type === 'mariadb' : /mariadb/i.test(version);
      return ormConnectionSession({
        dialect: mariadb ? 'mariadb' : 'mysql',
        raw: queryRunner,
        async run(sql, params) {
          dataSource.logger.logQuery(sql, [...params], queryRunner);
          return shape(
            await new Promise<unknown>((resolve, reject) => {
              connection.query(sql, [...params], (error, result) =>
                error ? reject(error) : resolve(result),
              );
            }),
          );
        },
        sidecar,
        serverId: connection.threadId,
        isBroken: () => broken || connection._closing === true || Boolean(connection._fatalError),
        verifyCommits,
        markerScope: dataSource,
      });
    },
    async release(session) {
      const queryRunner = session.raw as QueryRunner & { databaseConnection?: MysqlConnection };
      (queryRunner as { isTransactionActive: boolean }).isTransactionActive = false;
      if (session.destroyed || !isReusable(session)) {
        // The pool drops a destroyed connection and opens a new one when needed.
        (queryRunner as { isReleased: boolean }).isReleased = true;
        queryRunner.databaseConnection?.destroy();
        return;
      }
      await queryRunner.release();
    },
  };
}

function shape(result: unknown): OrmQueryResult {
  if (Array.isArray(result)) return { rows: result as Record<string, unknown>[], rowCount: result.length };
  const header = result as { affectedRows?: number } | null;
  return { rows: [], rowCount: Number(header?.affectedRows ?? 0), original: result };
}
