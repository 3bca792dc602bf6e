import { mkdtempSync, rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { terminateBackend } from '../../support/servers.js';
import { sleep } from '../runner/runner-support.js';

export { barrier, recordingLogger, sleep } from '../runner/runner-support.js';

/** The side of a test that talks to the server directly: reads the final state, holds locks, kills. */
export interface Admin {
  readonly dialect: 'postgres' | 'mariadb';
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Balances by id. */
  balances(): Promise<Record<number, number>>;
  /** Ends another connection on the server, as a crash or an operator would. */
  kill(serverId: number): Promise<void>;
  /** Kills the connection once it waits inside COMMIT (the slow deferred trigger); Postgres only. */
  killInCommit(serverId: number): Promise<void>;
  /** Takes the row lock on account `id` on a connection of its own until the returned function runs. */
  holdRow(id: number): Promise<() => Promise<void>>;
  end(): Promise<void>;
}

/** Accounts 1, 2 and 3 with 100 each; the audit table emptied. */
export async function resetAccounts(admin: Admin): Promise<void> {
  await admin.query('DELETE FROM audit');
  await admin.query('DELETE FROM account');
  await admin.query('INSERT INTO account (id, balance) VALUES (1, 100), (2, 100), (3, 100)');
}

/** A private Postgres schema with the account and audit tables; the audit trigger sleeps in COMMIT for slow = 1. */
export async function postgresAdmin(url: string, schema: string): Promise<Admin> {
  const pool = new pg.Pool({ connectionString: url, max: 3, options: `-c search_path=${schema}` });
  pool.on('error', () => undefined);
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.query(`CREATE SCHEMA ${schema}`);
  await pool.query('CREATE TABLE account (id INT PRIMARY KEY, balance INT NOT NULL)');
  await pool.query('CREATE TABLE audit (id SERIAL PRIMARY KEY, slow INT NOT NULL DEFAULT 0)');
  // A deferred constraint trigger runs inside COMMIT: its sleep holds COMMIT open long enough to kill it.
  await pool.query(`CREATE FUNCTION audit_slow() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.slow = 1 THEN PERFORM pg_sleep(5); END IF; RETURN NULL; END $$`);
  await pool.query(`CREATE CONSTRAINT TRIGGER audit_slow AFTER INSERT ON audit
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_slow()`);
  const query = async (sql: string, params?: unknown[]) => (await pool.query(sql, params)).rows;
  return {
    dialect: 'postgres',
    query,
    balances: async () => balancesOf(await query('SELECT id, balance FROM account ORDER BY id')),
    kill: (pid) => terminateBackend(url, pid),
    async killInCommit(pid) {
      for (let i = 0; i < 500; i++) {
        const rows = await query('SELECT wait_event FROM pg_stat_activity WHERE pid = $1', [pid]);
        if (rows[0]?.wait_event === 'PgSleep') return terminateBackend(url, pid);
        await sleep(20);
      }
      throw new Error(`backend ${pid} never slept in COMMIT`);
    },
    async holdRow(id) {
      const client = await pool.connect();
      await client.query('BEGIN');
      await client.query('SELECT * FROM account WHERE id = $1 FOR UPDATE', [id]);
      return async () => {
        await client.query('ROLLBACK');
        client.release();
      };
    },
    async end() {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await pool.end();
    },
  };
}

/** A private MariaDB database with the account and audit tables. */
export async function mariadbAdmin(url: string, database: string): Promise<Admin> {
  const root = await mysql.createConnection({ uri: url });
  await root.query(`DROP DATABASE IF EXISTS ${database}`);
  await root.query(`CREATE DATABASE ${database}`);
  await root.end();
  const pool = mysql.createPool({ uri: databaseUrl(url, database), connectionLimit: 3 });
  pool.on('connection', (c) => c.on('error', () => undefined));
  await pool.query('CREATE TABLE account (id INT PRIMARY KEY, balance INT NOT NULL) ENGINE=InnoDB');
  await pool.query(
    'CREATE TABLE audit (id INT AUTO_INCREMENT PRIMARY KEY, slow INT NOT NULL DEFAULT 0) ENGINE=InnoDB',
  );
  const query = async (sql: string, params?: unknown[]) =>
    (await pool.query(sql, params))[0] as Record<string, unknown>[];
  return {
    dialect: 'mariadb',
    query,
    balances: async () => balancesOf(await query('SELECT id, balance FROM account ORDER BY id')),
    async kill(id) {
      await pool.query(`KILL CONNECTION ${Number(id)}`);
    },
    killInCommit() {
      return Promise.reject(new Error('MariaDB has no way to hold COMMIT open: intercept it instead'));
    },
    async holdRow(id) {
      const connection = await pool.getConnection();
      await connection.query('BEGIN');
      await connection.query('SELECT * FROM account WHERE id = ? FOR UPDATE', [id]);
      return async () => {
        await connection.query('ROLLBACK');
        connection.release();
      };
    },
    async end() {
      await pool.query(`DROP DATABASE IF EXISTS ${database}`);
      await pool.end();
    },
  };
}

/** The URL with another database name. */
export function databaseUrl(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

function balancesOf(rows: Record<string, unknown>[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const row of rows) out[Number(row.id)] = Number(row.balance);
  return out;
}

/**
 * Arms a mysql2 (callback API) pool so that the next COMMIT it sends is lost: 'after-send' cuts the
 * socket right after COMMIT was written (its answer never read), 'before-send' has the server kill the
 * connection and then sends COMMIT on the dead connection.
 */
export function commitCutter(
  pool: { on(event: 'connection', listener: (connection: unknown) => void): unknown },
  admin: Admin,
): (mode: 'after-send' | 'before-send') => { readonly fired: () => boolean } {
  let armed: 'after-send' | 'before-send' | undefined;
  let fired = false;
  pool.on('connection', (raw) => {
    const connection = raw as {
      threadId: number;
      stream: { destroy(): void };
      on(event: 'error', listener: () => void): unknown;
      query: (...args: unknown[]) => unknown;
    };
    connection.on('error', () => undefined);
    const original = connection.query.bind(connection);
    connection.query = (...args: unknown[]) => {
      const sql = typeof args[0] === 'string' ? args[0] : (args[0] as { sql?: string } | undefined)?.sql;
      if (armed !== undefined && sql === 'COMMIT') {
        const mode = armed;
        armed = undefined;
        fired = true;
        if (mode === 'after-send') {
          const sent = original(...args);
          connection.stream.destroy();
          return sent;
        }
        const send = (): void => {
          original(...args);
        };
        void admin.kill(connection.threadId).then(() => sleep(100).then(send), send);
        return undefined;
      }
      return original(...args);
    };
  });
  return (mode) => {
    armed = mode;
    fired = false;
    return { fired: () => fired };
  };
}

/**
 * commitCutter for the mariadb connector's promise connections, whose socket is reachable only through
 * its `stream` option: `sockets` holds the sockets that option opened, and the one a connection uses is
 * found by the client port the server lists for that connection's thread.
 */
export function promiseCommitCutter(
  pool: { on(event: 'connection', listener: (connection: unknown) => void): unknown },
  admin: Admin,
  sockets: ReadonlySet<Socket>,
): (mode: 'after-send' | 'before-send') => { readonly fired: () => boolean } {
  let armed: 'after-send' | 'before-send' | undefined;
  let fired = false;
  const socketOf = async (threadId: number) => {
    const rows = await admin.query('SELECT HOST AS host FROM information_schema.PROCESSLIST WHERE ID = ?', [
      threadId,
    ]);
    const port = Number(
      String(rows[0]?.host ?? '')
        .split(':')
        .at(-1),
    );
    const socket = [...sockets].find((s) => s.localPort === port);
    if (socket === undefined) throw new Error(`no socket found for connection ${threadId}`);
    return socket;
  };
  pool.on('connection', (raw) => {
    const connection = raw as {
      readonly threadId: number;
      query(sql: unknown, values?: unknown): Promise<unknown>;
    };
    const original = connection.query.bind(connection);
    connection.query = async (sql, values) => {
      if (armed === undefined || sql !== 'COMMIT') return original(sql, values);
      const mode = armed;
      armed = undefined;
      fired = true;
      if (mode === 'before-send') {
        await admin.kill(connection.threadId);
        await sleep(100);
        return original(sql, values);
      }
      const socket = await socketOf(connection.threadId);
      const sent = original(sql, values);
      // As the peer resetting it would: the connector reads a socket's 'error', not a local destroy().
      socket.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' }));
      return sent;
    };
  });
  return (mode) => {
    armed = mode;
    fired = false;
    return { fired: () => fired };
  };
}

/** A SQLite file with the account table, and a connection of its own that reads balances and takes locks. */
export interface SqliteBank {
  readonly file: string;
  readonly other: BetterSqlite3.Database;
  balances(): Record<number, number>;
  /** Accounts 1, 2 and 3 with 100 each. */
  reset(): void;
  close(): void;
}

/** A fresh SQLite file in WAL mode (readers never wait for the writer) with the account table. */
export function sqliteBank(prefix: string): SqliteBank {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const file = join(dir, 'bank.db');
  const other = new BetterSqlite3(file);
  other.pragma('journal_mode = WAL');
  other.exec('CREATE TABLE account (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)');
  return {
    file,
    other,
    balances: () => balancesOf(other.prepare('SELECT id, balance FROM account ORDER BY id').all() as never),
    reset() {
      other.exec('DELETE FROM account');
      other.exec('INSERT INTO account (id, balance) VALUES (1, 100), (2, 100), (3, 100)');
    },
    close() {
      other.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
