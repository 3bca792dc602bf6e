import knexFactory from 'knex';
import { afterAll, describe, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';
import { knexRun } from '../../../src/integrations/knex/knex-run.js';
import type { KnexClientLike } from '../../../src/integrations/knex/knex-types.js';

// Knex's real client and its real error path (query-executioner puts the SQL, values inlined, in front
// of the driver's message); only the driver call is replaced, by the error node-postgres gives when the
// socket closed under a statement (seen under a kill storm: dbop's BEGIN failed unclassified, not retried).
describe('knexRun (dbop/knex): what dbop itself sends through Knex', () => {
  const knex = knexFactory({
    client: 'pg',
    connection: 'postgres://127.0.0.1:1/none',
    pool: { min: 0, max: 1 },
  });
  afterAll(() => knex.destroy());

  it.each([
    ['BEGIN ISOLATION LEVEL SERIALIZABLE', []],
    ['SELECT txid_status($1) AS status, $2 AS again, $1 AS first', ['42', 7]],
  ] as const)(
    'a connection lost under %s: the driver message alone, classified connection-lost',
    async (sql, params) => {
      const client = knex.client as unknown as KnexClientLike & { _query: () => Promise<never> };
      client._query = () => Promise.reject(new Error('Connection terminated unexpectedly'));
      const error = (await knexRun(client, () => ({}))(sql, params).catch((e: unknown) => e)) as Error;
      expect(error.message).toBe('Connection terminated unexpectedly');
      expect(classify(error, { dialect: 'postgres' }).kind).toBe('connection-lost');
    },
  );
});
