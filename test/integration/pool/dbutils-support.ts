import mariadb from 'mariadb';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { mariadbFactory } from '../../../src/pool/factories/mariadb-factory.js';
import { mysql2Factory } from '../../../src/pool/factories/mysql2-factory.js';
import { pgFactory } from '../../../src/pool/factories/pg-factory.js';
import type { PoolFactory } from '../../../src/pool/pool-factory.js';
import { mariadbUrl, postgresUrl, sharedServers } from '../../support/servers.js';
import { connectionSettings } from './pool-support.js';

/** A driver's connection as these tests use it: queried only through the factory's execute. */
export type Conn = object;

/**
 * One driver against its private server, for DBUtils' scenarios (tests/test_*_db.py used a mock driver).
 * Everything a test checks on the server goes through the same factory, so the table covers pg, mariadb
 * and mysql2 with one body per scenario.
 */
export interface DbutilsTarget {
  readonly name: 'pg' | 'mariadb' | 'mysql2';
  readonly available: () => boolean;
  /** A factory counting its pings, through `port` when given (a fault proxy's). */
  factory(port?: number): CountingFactory;
  /** The rows of what the factory's execute returned. */
  rows(result: unknown): Record<string, unknown>[];
  /** Selects the server's id of this connection as `id` (backend pid, connection id). */
  readonly idSql: string;
  /** Sets the session marker (a setSession statement) and reads it back as `tag`. */
  setTag(tag: string): string;
  readonly tagSql: string;
  /** Ends connection `id` from another session (pg_terminate_backend, KILL CONNECTION). */
  killSql(id: number): string;
  /** How many of `ids` the server still has. */
  aliveSql(ids: readonly number[]): string;
  /** The server's port (for a proxy in front of it). */
  port(): number;
}

export interface CountingFactory extends PoolFactory<Conn> {
  pings: number;
}

function counting(inner: PoolFactory<Conn>): CountingFactory {
  const counted: CountingFactory = {
    ...inner,
    pings: 0,
    async ping(connection, signal) {
      counted.pings += 1;
      await inner.ping!(connection, signal);
    },
  };
  return counted;
}

function withPort(url: string, port?: number): Record<string, unknown> {
  const settings = connectionSettings(url);
  return port === undefined ? settings : { ...settings, port };
}

const mysqlFamily = {
  idSql: 'SELECT CONNECTION_ID() AS id',
  setTag: (tag: string) => `SET @dbop_tag = '${tag}'`,
  tagSql: 'SELECT @dbop_tag AS tag',
  killSql: (id: number) => `KILL CONNECTION ${id}`,
  aliveSql: (ids: readonly number[]) =>
    `SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE ID IN (${ids.join(',') || 0})`,
  available: () => sharedServers().mariadb !== undefined,
  port: () => Number(new URL(mariadbUrl()).port),
};

export const targets: readonly DbutilsTarget[] = [
  {
    name: 'pg',
    available: () => sharedServers().postgres !== undefined,
    factory: (port) => counting(pgFactory(withPort(postgresUrl(), port), { driver: pg }) as never),
    rows: (result) => (result as pg.QueryResult).rows,
    idSql: 'SELECT pg_backend_pid() AS id',
    setTag: (tag) => `SET dbop.tag = '${tag}'`,
    tagSql: "SELECT current_setting('dbop.tag', true) AS tag",
    killSql: (id) => `SELECT pg_terminate_backend(${id})`,
    aliveSql: (ids) => `SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid IN (${ids.join(',') || 0})`,
    port: () => Number(new URL(postgresUrl()).port),
  },
  {
    name: 'mariadb',
    ...mysqlFamily,
    factory: (port) => counting(mariadbFactory(withPort(mariadbUrl(), port), { driver: mariadb }) as never),
    rows: (result) => result as Record<string, unknown>[],
  },
  {
    name: 'mysql2',
    ...mysqlFamily,
    factory: (port) => counting(mysql2Factory(withPort(mariadbUrl(), port), { driver: mysql }) as never),
    rows: (result) => result as Record<string, unknown>[],
  },
];

/** A target's own connection for checks from outside (kills, counts), opened on first use. */
export class Admin {
  readonly #target: DbutilsTarget;
  #factory: PoolFactory<Conn> | undefined;
  #connection: Conn | undefined;

  constructor(target: DbutilsTarget) {
    this.#target = target;
  }

  async query(sql: string): Promise<Record<string, unknown>[]> {
    this.#factory ??= this.#target.factory();
    this.#connection ??= await this.#factory.create(new AbortController().signal);
    return this.#target.rows(await this.#factory.execute!(this.#connection, sql));
  }

  async kill(id: number): Promise<void> {
    await this.query(this.#target.killSql(id));
  }

  async alive(ids: readonly number[]): Promise<number> {
    return Number((await this.query(this.#target.aliveSql(ids)))[0]!.n);
  }

  async close(): Promise<void> {
    if (this.#connection !== undefined) await this.#factory!.destroy(this.#connection);
    this.#connection = undefined;
  }
}

/** The describe block's Admin, closed after it; with `table`, a table (k VARCHAR(20)) made and dropped. */
export function describeAdmin(target: DbutilsTarget, table?: string): Admin {
  const admin = new Admin(target);
  beforeAll(async () => {
    if (table === undefined) return;
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.query(`CREATE TABLE ${table} (k VARCHAR(20))`);
  });
  afterAll(async () => {
    if (table !== undefined) await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.close();
  });
  return admin;
}

/** The server's id of `connection`, read through `factory`. */
export async function serverId(
  target: DbutilsTarget,
  factory: PoolFactory<Conn>,
  connection: Conn,
): Promise<number> {
  return Number(target.rows(await factory.execute!(connection, target.idSql))[0]!.id);
}

/** The session marker of `connection` (null when setSession did not run on it). */
export async function tagOf(
  target: DbutilsTarget,
  factory: PoolFactory<Conn>,
  connection: Conn,
): Promise<unknown> {
  const tag = target.rows(await factory.execute!(connection, target.tagSql))[0]!.tag;
  return tag === '' ? null : tag;
}
