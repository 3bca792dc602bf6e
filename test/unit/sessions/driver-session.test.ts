import { describe, expect, it } from 'vitest';
import { isAmbiguousCommitError } from '../../../src/core/errors.js';
import { mariadbSql } from '../../../src/dialects/mariadb/mariadb-sql.js';
import {
  postgresAssignTransactionIdQuery,
  postgresTransactionHistory,
  postgresTransactionIdQuery,
} from '../../../src/dialects/postgres/postgres-commit-lookup.js';
import { postgresSql } from '../../../src/dialects/postgres/postgres-sql.js';
import { DbOpRunner } from '../../../src/runner/dbop-runner.js';
import { DriverSession } from '../../../src/sessions/shared/driver-session.js';
import { endsMysqlTransaction } from '../../../src/sessions/shared/mysql-family.js';
import type { CommitStatus, SessionDriver } from '../../../src/sessions/shared/session-driver.js';
import { isCommitInFlight, isVerifiedAbort } from '../../../src/sessions/shared/verify-commit.js';

type Fake = SessionDriver<null> & { sent: string[]; failOn?: (sql: string) => unknown };

function fakeDriver(overrides: Partial<SessionDriver<null>> = {}): Fake {
  const fake: Fake = {
    dialect: 'postgres',
    sql: postgresSql(),
    raw: null,
    sent: [],
    async query(sql) {
      fake.sent.push(sql);
      const failure = fake.failOn?.(sql);
      if (failure !== undefined) throw failure;
      return { rows: [], rowCount: 0 };
    },
    async batch(statements) {
      for (const statement of statements) {
        fake.sent.push(statement);
        const failure = fake.failOn?.(statement);
        if (failure !== undefined) throw failure;
      }
      return statements.some((s) => s.includes('txid_current')) ? [{ xid: '742' }] : [];
    },
    destroy() {},
    ...overrides,
  };
  return fake;
}

const lost = () => Object.assign(new Error('Connection terminated unexpectedly'), {});

describe('DriverSession', () => {
  it('records the transaction id at BEGIN (one batch) only when it can verify commits', async () => {
    const withVerify = fakeDriver({ commitStatus: async () => 'committed' });
    await new DriverSession(withVerify).begin({ alsoRun: ["SELECT set_config('lock_timeout', '50', true)"] });
    expect(withVerify.sent).toEqual([
      'BEGIN',
      "SELECT set_config('lock_timeout', '50', true)",
      postgresTransactionHistory.assignTransactionIdQuery,
    ]);
    const plain = fakeDriver();
    await new DriverSession(plain).begin({ readOnly: true });
    expect(plain.sent).toEqual(['BEGIN READ ONLY']);
  });

  it.each<[CommitStatus, string]>([
    ['committed', 'resolves'],
    ['aborted', 'verified abort'],
    ['unknown', 'ambiguous'],
  ])('a COMMIT lost with the server answering %s: %s', async (status, expected) => {
    const asked: string[] = [];
    const driver = fakeDriver({
      commitStatus: async (id) => {
        asked.push(id);
        return status;
      },
    });
    const error = lost();
    driver.failOn = (sql) => (sql === 'COMMIT' ? error : undefined);
    const session = new DriverSession(driver);
    await session.begin();
    const outcome = await session.commit().then(
      () => 'resolves',
      (e: unknown) =>
        isAmbiguousCommitError(e)
          ? 'ambiguous'
          : isVerifiedAbort(e) && e === error
            ? 'verified abort'
            : 'other',
    );
    expect(outcome).toBe(expected);
    expect(asked).toEqual(['742']);
    expect(session.inTransaction()).toBe(false);
  });

  describe('the server history of a transaction id (Postgres)', () => {
    // What the id queries answer: the history column only in the queries that ask for it, NULL on a standby.
    function historyDriver(history: () => string | null, rowsAsTheyArrive: boolean) {
      const raw = {};
      const sent: string[] = [];
      let xid = 100;
      const asked: string[] = [];
      const state = { loseCommit: false };
      const rowOf = (statement: string): Record<string, unknown> | undefined => {
        if (!statement.includes('txid_current')) return undefined;
        xid += 1;
        return statement.includes('AS history')
          ? { xid: String(xid), history: history() }
          : { xid: String(xid) };
      };
      const driver = (): SessionDriver<object> => ({
        dialect: 'postgres',
        sql: postgresSql(),
        raw,
        rowsAsTheyArrive,
        async query() {
          return { rows: [], rowCount: 0 };
        },
        async batch(statements, onRow) {
          let last: Record<string, unknown>[] = [];
          for (const statement of statements) {
            sent.push(statement);
            const row = rowOf(statement);
            if (row !== undefined) onRow?.(row);
            last = row === undefined ? [] : [row];
            if (statement === 'COMMIT' && state.loseCommit)
              throw new Error('Connection terminated unexpectedly');
          }
          return last;
        },
        async commitStatus(id) {
          asked.push(id);
          return 'committed';
        },
        destroy() {},
      });
      const historyReads = () => sent.filter((s) => s.includes('pg_control_system')).length;
      return { driver, sent, asked, historyReads, state };
    }

    it.each([
      ['read with the COMMIT (pg)', true],
      ['read at BEGIN (postgres.js)', false],
    ])('%s: read once per connection on a primary, every session over it reuses it', async (_name, rows) => {
      const fake = historyDriver(() => '7000/00000001', rows);
      const first = new DriverSession(fake.driver());
      await first.begin();
      await first.commit();
      expect(fake.historyReads()).toBe(1);
      const plain = rows ? postgresTransactionIdQuery : postgresAssignTransactionIdQuery;
      // Later transactions, on this session or another over the same connection: the id alone.
      for (const session of [first, new DriverSession(fake.driver()), new DriverSession(fake.driver())]) {
        fake.sent.length = 0;
        await session.begin();
        await session.commit();
        expect(fake.sent).toContain(plain);
      }
      expect(fake.historyReads()).toBe(0);
      // A lost COMMIT is looked up with the history kept for the connection.
      fake.state.loseCommit = true;
      const last = new DriverSession(fake.driver());
      await last.begin();
      await last.commit();
      expect(fake.historyReads()).toBe(0);
      expect(fake.asked).toEqual(['105@7000/00000001']);
    });

    it('read again in every transaction while the server is a standby (NULL), kept once it is a primary', async () => {
      let history: string | null = null;
      const fake = historyDriver(() => history, true);
      const session = new DriverSession(fake.driver());
      for (let i = 0; i < 3; i += 1) {
        await session.begin();
        await session.commit();
      }
      expect(fake.historyReads()).toBe(3);
      // Promoted: the next read is a primary's, and the last one.
      history = '7000/00000002';
      for (let i = 0; i < 3; i += 1) {
        await session.begin();
        fake.state.loseCommit = i === 2;
        await session.commit();
      }
      expect(fake.historyReads()).toBe(4);
      expect(fake.asked).toEqual(['106@7000/00000002']);
    });
  });

  it('a driver that passes rows on as they arrive reads the id right before COMMIT, in the same batch', async () => {
    const batches: string[][] = [];
    const driver = fakeDriver({
      rowsAsTheyArrive: true,
      commitStatus: async () => 'committed',
      async batch(statements, onRow) {
        batches.push([...statements]);
        if (statements.some((s) => s.includes('txid_current_if_assigned'))) onRow?.({ xid: '9001' });
        return [];
      },
    });
    const session = new DriverSession(driver);
    await session.begin({ alsoRun: ['SET LOCAL lock_timeout = 50'] });
    await session.commit();
    expect(batches).toEqual([
      ['BEGIN', 'SET LOCAL lock_timeout = 50'],
      [postgresTransactionHistory.transactionIdQuery, 'COMMIT'],
    ]);
    // Read-only: no id at all.
    batches.length = 0;
    await session.begin({ readOnly: true });
    await session.commit();
    expect(batches).toEqual([['BEGIN READ ONLY'], ['COMMIT']]);
  });

  it.each<[string | null, string]>([
    ['9001', 'asks the server: committed'],
    [null, 'never wrote: a verified abort, safe to redo'],
  ])('a COMMIT lost after the id row arrived (%s) %s', async (xid, expected) => {
    const asked: string[] = [];
    const error = lost();
    const driver = fakeDriver({
      rowsAsTheyArrive: true,
      commitStatus: async (id) => {
        asked.push(id);
        return 'committed';
      },
      async batch(statements, onRow) {
        if (!statements.includes('COMMIT')) return [];
        // The row came back, then the connection went before COMMIT's answer: the promise loses the row.
        onRow?.({ xid });
        throw error;
      },
    });
    const session = new DriverSession(driver);
    await session.begin();
    const outcome = await session.commit().then(
      () => 'asks the server: committed',
      (e: unknown) =>
        isVerifiedAbort(e) && e === error ? 'never wrote: a verified abort, safe to redo' : 'other',
    );
    expect(outcome).toBe(expected);
    expect(asked).toEqual(xid === null ? [] : ['9001']);
  });

  it.each<[boolean, boolean, string]>([
    [false, true, 'ended in order before the id row: COMMIT never ran, the plain error, no lookup'],
    [false, false, 'no goodbye and no id row: ambiguous'],
    [true, true, 'ended in order after the id row: asks the server'],
  ])('a COMMIT batch failing (row %s, in order %s): %s', async (rowSeen, inOrder, expected) => {
    const asked: string[] = [];
    const error = lost();
    const driver = fakeDriver({
      rowsAsTheyArrive: true,
      endedInOrder: (e) => inOrder && e === error,
      commitStatus: async (id) => {
        asked.push(id);
        return 'aborted';
      },
      async batch(statements, onRow) {
        if (!statements.includes('COMMIT')) return [];
        if (rowSeen) onRow?.({ xid: '9001' });
        throw error;
      },
    });
    const session = new DriverSession(driver);
    await session.begin();
    const thrown = await session.commit().then(
      () => undefined,
      (e: unknown) => e,
    );
    const outcome =
      isAmbiguousCommitError(thrown) || isCommitInFlight(thrown)
        ? 'no goodbye and no id row: ambiguous'
        : thrown === error && isVerifiedAbort(error)
          ? 'ended in order after the id row: asks the server'
          : thrown === error && !isCommitInFlight(error)
            ? 'ended in order before the id row: COMMIT never ran, the plain error, no lookup'
            : 'other';
    expect(outcome).toBe(expected);
    expect(asked).toEqual(rowSeen ? ['9001'] : []);
    // A connection that said goodbye, or whose COMMIT was looked up, is not used again.
    if (inOrder) expect(session.destroyed).toBe(true);
  });

  it('after an error in the transaction, COMMIT goes alone (an id query would fail first and keep it from running)', async () => {
    const batches: string[][] = [];
    const driver = fakeDriver({
      rowsAsTheyArrive: true,
      commitStatus: async () => 'committed',
      async query() {
        throw Object.assign(new Error('duplicate key'), { code: '23505' });
      },
      async batch(statements) {
        batches.push([...statements]);
        return [];
      },
    });
    const session = new DriverSession(driver);
    await session.begin();
    await expect(session.query('INSERT')).rejects.toMatchObject({ code: '23505' });
    await session.commit().catch(() => undefined);
    expect(batches.at(-1)).toEqual(['COMMIT']);
  });

  it('commit markers (MySQL family): table created once, a random id inserted right before COMMIT, looked up after a lost COMMIT', async () => {
    const sent: string[] = [];
    const asked: string[] = [];
    const error = Object.assign(new Error('Connection lost: The server closed the connection.'), {
      code: 'PROTOCOL_CONNECTION_LOST',
    });
    const driver = fakeDriver({
      dialect: 'mariadb',
      sql: mariadbSql(),
      marksCommits: true,
      markerScope: {},
      commitStatus: async (id) => {
        asked.push(id);
        return 'committed';
      },
      async query(sql) {
        sent.push(sql);
        return { rows: [], rowCount: 0 };
      },
      async batch(statements) {
        sent.push(...statements);
        if (statements.includes('COMMIT') && sent.filter((s) => s === 'COMMIT').length === 2) throw error;
        return [];
      },
    });
    const session = new DriverSession(driver);
    await session.begin();
    await session.commit();
    await session.begin();
    await session.commit();
    // The session that lost its COMMIT is destroyed; a read-only transaction on another writes no marker.
    expect(session.destroyed).toBe(true);
    const reader = new DriverSession(driver);
    await reader.begin({ readOnly: true });
    await reader.commit();
    const creates = sent.filter((s) => s.startsWith('CREATE TABLE IF NOT EXISTS dbop_commit_marker'));
    expect(creates).toHaveLength(1);
    const inserts = sent.filter((s) => s.startsWith('INSERT INTO dbop_commit_marker'));
    expect(inserts).toHaveLength(2);
    expect(inserts[0]).not.toBe(inserts[1]);
    expect(sent[sent.indexOf(inserts[1]!) + 1]).toBe('COMMIT');
    // The second COMMIT was lost: its marker, and only it, was looked up.
    expect(asked).toHaveLength(1);
    expect(inserts[1]).toContain(`X'${asked[0]}'`);
    expect(sent.slice(-2)).toEqual(['START TRANSACTION READ ONLY', 'COMMIT']);
  });

  it('MySQL family: the settings a transaction changed are restored after COMMIT, not before (locks go sooner)', async () => {
    const driver = fakeDriver({ dialect: 'mariadb', sql: mariadbSql() });
    const runner = new DbOpRunner({ defaultLockTimeoutMs: 3000 });
    await runner.transaction(new DriverSession(driver), (session) => session.query('UPDATE'));
    const commit = driver.sent.indexOf('COMMIT');
    expect(driver.sent.slice(commit)).toEqual([
      'COMMIT',
      'SET SESSION innodb_lock_wait_timeout = @dbop_innodb_lock_wait_timeout_0, @dbop_innodb_lock_wait_timeout_0 = NULL',
    ]);
  });

  it('a COMMIT the server refused with a SQLSTATE is not ambiguous; without verification a lost one is marked', async () => {
    const refused = Object.assign(new Error('could not serialize'), { code: '40001' });
    const driver = fakeDriver({ commitStatus: async () => 'committed' });
    driver.failOn = (sql) => (sql === 'COMMIT' ? refused : undefined);
    const session = new DriverSession(driver);
    await session.begin();
    await expect(session.commit()).rejects.toBe(refused);
    const unverified = fakeDriver();
    const error = lost();
    unverified.failOn = (sql) => (sql === 'COMMIT' ? error : undefined);
    const other = new DriverSession(unverified);
    await other.begin();
    await expect(other.commit()).rejects.toBe(error);
    expect(isCommitInFlight(error)).toBe(true);
  });

  it('MySQL 1213 ends the tracked transaction (open to its owner until rolled back); a broken connection is destroyed and never used again', async () => {
    const driver = fakeDriver({
      dialect: 'mariadb',
      sql: mariadbSql(),
      endsTransaction: endsMysqlTransaction,
    });
    const deadlock = Object.assign(new Error('Deadlock found'), { errno: 1213 });
    driver.failOn = (sql) => (sql === 'UPDATE' ? deadlock : undefined);
    const session = new DriverSession(driver);
    await session.begin();
    await expect(session.query('UPDATE')).rejects.toBe(deadlock);
    // The server ended it; to its owner it stays open (endedBy) until the owner rolls back.
    expect(session.endedBy).toBe(deadlock);
    expect(session.inTransaction()).toBe(true);
    await session.rollback();
    expect(session.endedBy).toBeUndefined();
    expect(session.inTransaction()).toBe(false);

    let broken = false;
    let destroyed = 0;
    const fragile = fakeDriver({ isBroken: () => broken, destroy: () => void destroyed++ });
    fragile.failOn = () => {
      broken = true;
      return lost();
    };
    const gone = new DriverSession(fragile);
    await expect(gone.query('SELECT 1')).rejects.toThrow('Connection terminated');
    expect(gone.destroyed).toBe(true);
    expect(destroyed).toBe(1);
    await expect(gone.query('SELECT 1')).rejects.toMatchObject({ code: 'DBOP_SESSION_DESTROYED' });
  });

  it('a BEGIN batch failing after BEGIN leaves no transaction open', async () => {
    let open = false;
    const driver = fakeDriver({ inTransaction: () => open });
    driver.failOn = (sql) => {
      if (sql === 'BEGIN') open = true;
      if (sql === 'ROLLBACK') open = false;
      return sql.startsWith('SELECT set_config') ? new Error('bad setting') : undefined;
    };
    const session = new DriverSession(driver);
    await expect(session.begin({ alsoRun: ["SELECT set_config('x', '1', true)"] })).rejects.toThrow(
      'bad setting',
    );
    expect(driver.sent).toContain('ROLLBACK');
    expect(session.inTransaction()).toBe(false);
  });
});
