import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';
import { failure } from './drivers.js';

// PGlite runs in-process with one connection: the errors that need a second session cannot happen here.
describe('classify: errors PGlite really raised', () => {
  let db: PGlite;

  beforeAll(async () => {
    db = await PGlite.create();
    await db.exec('CREATE TABLE t (id int PRIMARY KEY)');
  });

  afterAll(async () => {
    await db.close();
  });

  it('25006 in a READ ONLY transaction (its class name is minified: read by shape)', async () => {
    await db.exec('BEGIN READ ONLY');
    const error = await failure(db.query('INSERT INTO t VALUES (1)'));
    await db.exec('ROLLBACK');
    expect(classify(error)).toMatchObject({
      kind: 'read-only',
      retryable: false,
      code: '25006',
      backend: 'postgres',
    });
  });

  it('23505 unique violation and 42P01 undefined table are not retryable', async () => {
    await db.query('INSERT INTO t VALUES (2)');
    expect(classify(await failure(db.query('INSERT INTO t VALUES (2)')))).toMatchObject({
      kind: 'constraint',
      code: '23505',
    });
    expect(classify(await failure(db.query('SELECT * FROM missing')))).toMatchObject({
      kind: 'syntax',
      code: '42P01',
    });
  });
});
