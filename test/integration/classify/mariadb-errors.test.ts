import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';
import { describeIfMariadb, sharedServers } from '../../support/servers.js';
import {
  connectMysql2,
  failure,
  mariadbDrivers,
  uniqueName,
  waitUntilBlocked,
  withConnections,
} from './drivers.js';

describeIfMariadb('classify: errors MariaDB really raised', () => {
  const url = (): string => sharedServers().mariadb!.url;
  const table = uniqueName('cls_maria');
  const lockWaiting = (id: number): string =>
    `SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ${id} AND STATE IN ('Sending data', 'Statistics', 'Updating', 'Sending to client', 'Searching rows for update') AND INFO LIKE '%FOR UPDATE%'`;

  beforeAll(async () => {
    await withConnections(connectMysql2, [url()], async ([admin]) => {
      await admin!.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`);
      await admin!.query(`INSERT INTO ${table} VALUES (1, 0), (2, 0)`);
    });
  });

  afterAll(async () => {
    await withConnections(connectMysql2, [url()], ([admin]) => admin!.query(`DROP TABLE IF EXISTS ${table}`));
  });

  describe.each(mariadbDrivers)('%s', (_driver, connect) => {
    const dialect = { dialect: 'mariadb' } as const;

    it('1213: crossed row locks roll the whole transaction back', async () => {
      await withConnections(connect, [url(), url()], async ([a, b]) => {
        await a!.query('START TRANSACTION');
        await b!.query('START TRANSACTION');
        await a!.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`);
        await b!.query(`UPDATE ${table} SET v = v + 1 WHERE id = 2`);
        const first = a!.query(`UPDATE ${table} SET v = v + 1 WHERE id = 2`);
        const results = await Promise.allSettled([
          first,
          b!.query(`UPDATE ${table} SET v = v + 1 WHERE id = 1`),
        ]);
        await Promise.allSettled([a!.query('ROLLBACK'), b!.query('ROLLBACK')]);
        const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
        expect(errors).toHaveLength(1);
        expect(classify(errors[0], dialect)).toMatchObject({
          kind: 'deadlock',
          scope: 'transaction',
          retryable: true,
          code: '1213',
          backend: 'mariadb',
        });
      });
    });

    it('1205: lock wait timeout (innodb_lock_wait_timeout = 0: whole seconds or no wait) and NOWAIT', async () => {
      await withConnections(connect, [url(), url()], async ([a, b]) => {
        await a!.query('START TRANSACTION');
        await a!.query(`SELECT * FROM ${table} WHERE id = 1 FOR UPDATE`);
        await b!.query('SET SESSION innodb_lock_wait_timeout = 0');
        const error = await failure(b!.query(`SELECT * FROM ${table} WHERE id = 1 FOR UPDATE`));
        const nowait = await failure(b!.query(`SELECT * FROM ${table} WHERE id = 1 FOR UPDATE NOWAIT`));
        await a!.query('ROLLBACK');
        for (const e of [error, nowait]) {
          expect(classify(e, dialect)).toMatchObject({
            kind: 'lock-timeout',
            scope: 'statement',
            retryable: true,
            code: '1205',
          });
        }
      });
    });

    it('1969: max_statement_time', async () => {
      await withConnections(connect, [url()], async ([a]) => {
        const error = await failure(a!.query('SET STATEMENT max_statement_time = 0.05 FOR SELECT SLEEP(2)'));
        expect(classify(error)).toMatchObject({
          kind: 'statement-timeout',
          scope: 'statement',
          retryable: true,
          code: '1969',
        });
        expect(classify(error, { dialect: 'mysql' }).kind).toBe('unknown');
      });
    });

    it('1317: KILL QUERY from another connection is a cancel, or an attempt timeout when dbop sent it', async () => {
      await withConnections(connect, [url(), url(), url()], async ([holder, victim, killer]) => {
        await holder!.query('START TRANSACTION');
        await holder!.query(`SELECT * FROM ${table} WHERE id = 2 FOR UPDATE`);
        const waiting = failure(victim!.query(`SELECT * FROM ${table} WHERE id = 2 FOR UPDATE`));
        await waitUntilBlocked(killer!, lockWaiting(victim!.id));
        await killer!.query(`KILL QUERY ${victim!.id}`);
        const error = await waiting;
        await holder!.query('ROLLBACK');
        expect(classify(error, dialect)).toMatchObject({ kind: 'cancelled', retryable: false, code: '1317' });
        expect(classify(error, { ...dialect, cancelledByDbop: true })).toMatchObject({
          kind: 'attempt-timeout',
          retryable: true,
        });
      });
    });

    it('KILL CONNECTION from another connection is connection-lost', async () => {
      await withConnections(connect, [url(), url(), url()], async ([holder, victim, killer]) => {
        await holder!.query('START TRANSACTION');
        await holder!.query(`SELECT * FROM ${table} WHERE id = 2 FOR UPDATE`);
        const waiting = failure(victim!.query(`SELECT * FROM ${table} WHERE id = 2 FOR UPDATE`));
        await waitUntilBlocked(killer!, lockWaiting(victim!.id));
        await killer!.query(`KILL CONNECTION ${victim!.id}`);
        const error = await waiting;
        await holder!.query('ROLLBACK');
        const c = classify(error, dialect);
        expect(c).toMatchObject({ kind: 'connection-lost', scope: 'connection', retryable: true });
        expect(['1927', 'PROTOCOL_CONNECTION_LOST', '45009']).toContain(c.code);
        // The connection is dead: the next statement fails the driver's own way, also connection-lost.
        const next = classify(await failure(victim!.query('SELECT 1')), dialect);
        expect(next).toMatchObject({ kind: 'connection-lost', retryable: true });
      });
    });

    it('1226: too many connections for a user WITH MAX_USER_CONNECTIONS 1', async () => {
      const user = uniqueName('cls_user');
      await withConnections(connectMysql2, [url()], async ([admin]) => {
        await admin!.query(
          `CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 1`,
        );
        await admin!.query(
          `GRANT SELECT ON \`${new URL(url()).pathname.slice(1)}\`.* TO '${user}'@'127.0.0.1'`,
        );
        try {
          const limited = new URL(url());
          limited.username = user;
          limited.password = 'pw';
          await withConnections(connect, [limited.href], async () => {
            const error = await failure(connect(limited.href));
            expect(classify(error, dialect)).toMatchObject({
              kind: 'too-many-connections',
              scope: 'connection',
              retryable: true,
              code: '1226',
            });
          });
        } finally {
          await admin!.query(`DROP USER '${user}'@'127.0.0.1'`);
        }
      });
    });
  });
});
