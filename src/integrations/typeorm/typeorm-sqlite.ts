import type { DataSource, QueryRunner } from 'typeorm';
import type { SessionSource } from '../../core/session.js';
import { type BetterSqliteDatabase, betterSqliteSource } from '../shared/sqlite-connection.js';

/** TypeORM's 'better-sqlite3' driver, as far as dbop reads it. */
interface BetterSqliteDriver {
  readonly databaseConnection: BetterSqliteDatabase;
  createQueryRunner(mode: 'master'): QueryRunner;
}

/**
 * Sessions over the DataSource's one better-sqlite3 connection, one transaction at a time. Each gets a
 * QueryRunner of its own: the driver hands out one shared runner, which dbop's guard must leave alone.
 */
export function typeormSqliteSource(dataSource: DataSource): SessionSource {
  const driver = dataSource.driver as unknown as BetterSqliteDriver;
  const Runner = driver.createQueryRunner('master').constructor as new (driver: unknown) => QueryRunner;
  return betterSqliteSource(
    driver.databaseConnection,
    (sql, params) => dataSource.logger.logQuery(sql, [...params]),
    (view) => {
      const queryRunner = new Runner(dataSource.driver);
      // The runner reaches the connection through connect(): dbop's view, not refused while dbop holds it.
      Object.assign(queryRunner, {
        manager: dataSource.createEntityManager(queryRunner),
        connect: () => Promise.resolve(view),
      });
      return queryRunner;
    },
  );
}
