import knexFactory, { type Knex } from 'knex';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { retryTransaction } from '../../../src/integrations/knex/index.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../../support/servers.js';
import { type AttackedOrm, swallowedDeadlock, swallowedPostgresDeadlock } from './orm-attack-support.js';
import { type Admin, databaseUrl, mariadbAdmin, postgresAdmin, resetAccounts } from './orm-support.js';

/** Settles once signal aborts: the attempt was abandoned. */
const aborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });

/** Attacks on dbop/knex a new user would try (issue 13), on both servers. */
function knexAttacks(setup: () => Promise<{ db: Knex; admin: Admin; url: string; schema?: string }>): void {
  let db: Knex;
  let admin: Admin;
  let url: string;
  let schema: string | undefined;
  beforeAll(async () => {
    ({ db, admin, url, schema } = await setup());
  });
  afterAll(async () => {
    await db?.destroy();
    await admin?.end();
  });
  beforeEach(() => resetAccounts(admin));

  it("an abandoned attempt's nested trx.transaction() is fenced: its write never lands in the retry or in autocommit", async () => {
    let attempts = 0;
    let secondStarted!: () => void;
    const second = new Promise<void>((resolve) => {
      secondStarted = resolve;
    });
    let leftover: Promise<unknown> = Promise.resolve();
    await retryTransaction(
      db,
      async (trx, attempt) => {
        attempts += 1;
        if (attempt.attempt === 1) {
          // Slow in JavaScript, not on the server: only the fence can stop what follows.
          await aborted(attempt.signal);
          await second;
          leftover = trx
            .transaction((nested) => nested('audit').insert({ slow: 0 }))
            .catch((error: unknown) => error);
          await leftover;
          return;
        }
        await trx('audit').insert({ slow: 0 });
        secondStarted();
        // The abandoned attempt's leftovers run while this attempt's transaction is open.
        await new Promise((resolve) => setTimeout(resolve, 0));
        await leftover;
      },
      { attemptTimeoutMs: 1000, runner: new DbOpRunner({ initialDelayMs: 10 }) },
    );
    const refused = await leftover;
    expect(attempts).toBe(2);
    expect(Number((await admin.query('SELECT COUNT(*) AS n FROM audit'))[0]?.n)).toBe(1);
    expect(refused).toBeInstanceOf(Error);
  });

  it('COMMIT hidden in an executable comment, after an empty statement, or as a second statement is refused; nothing committed', async () => {
    const hidden =
      admin.dialect === 'postgres'
        ? [';COMMIT', 'SELECT 1; COMMIT', '/* /* nested */ */ COMMIT']
        : ['/*! COMMIT */', '/*M! COMMIT */', "SET PASSWORD = PASSWORD('dbop')"];
    for (const statement of hidden) {
      const error = await retryTransaction(db, async (trx) => {
        await trx('account').where({ id: 1 }).decrement('balance', 50);
        await trx.raw(statement);
        throw new Error('the transfer must roll back');
      }).catch((e: unknown) => e);
      expect([statement, isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')]).toEqual([statement, true]);
      expect(await admin.balances()).toEqual({ 1: 100, 2: 100, 3: 100 });
    }
  });

  it('a deadlock the callback catches and carries on from (MariaDB rolled the transaction back): redone whole, never half committed', async (context) => {
    if (admin.dialect !== 'mariadb') context.skip();
    await swallowedDeadlock<Knex.Transaction>(
      { retry: (fn, options) => retryTransaction(db, fn, options), raw: (trx, sql) => trx.raw(sql) },
      admin,
      url,
    );
  });

  it('a deadlock the callback catches and returns from: redone whole, not reported committed with nothing applied', async () => {
    const orm: AttackedOrm<Knex.Transaction> = {
      retry: (fn, options) => retryTransaction(db, fn, options),
      raw: (trx, sql) => trx.raw(sql),
    };
    if (admin.dialect === 'mariadb') await swallowedDeadlock(orm, admin, url, 'return');
    else await swallowedPostgresDeadlock(orm, admin, url, schema!);
  });

  it('COMMIT sent through a nested trx.transaction() is refused, and nothing is committed', async () => {
    const error = await retryTransaction(db, async (trx) => {
      await trx('account').where({ id: 1 }).decrement('balance', 50);
      await trx.transaction(async (nested) => {
        await nested.raw('COMMIT');
      });
      throw new Error('not reached: the transfer must roll back');
    }).catch((e: unknown) => e);
    expect(isDbopError(error, 'DBOP_TRANSACTION_BOUNDARY')).toBe(true);
    expect(await admin.balances()).toEqual({ 1: 100, 2: 100, 3: 100 });
  });
}

describeIfPostgres('dbop/knex attacked on PostgreSQL (pg)', () => {
  const schema = `dbop_knex_attack_${process.pid}`;
  knexAttacks(async () => ({
    url: postgresUrl(),
    schema,
    admin: await postgresAdmin(postgresUrl(), schema),
    db: knexFactory({
      client: 'pg',
      connection: { connectionString: postgresUrl(), options: `-c search_path=${schema}` },
      pool: { min: 0, max: 2 },
    }),
  }));
});

describeIfMariadb('dbop/knex attacked on MariaDB (mysql2)', () => {
  const database = `dbop_knex_attack_${process.pid}`;
  knexAttacks(async () => ({
    url: databaseUrl(mariadbUrl(), database),
    admin: await mariadbAdmin(mariadbUrl(), database),
    db: knexFactory({
      client: 'mysql2',
      connection: databaseUrl(mariadbUrl(), database),
      pool: { min: 0, max: 2 },
    }),
  }));
});
