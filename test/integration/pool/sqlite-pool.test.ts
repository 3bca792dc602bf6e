import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteFactory } from '../../../src/pool/factories/sqlite-factory.js';
import { createPool } from '../../../src/pool/pool.js';
import type { PoolFactory } from '../../../src/pool/pool-factory.js';

const dir = mkdtempSync(join(tmpdir(), 'dbop-pool-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dbop pool over better-sqlite3', () => {
  it('destroys a connection given back with autocommit off (a transaction open), reuses one in autocommit', async () => {
    // The factory's type is the subset it uses; the connections are real better-sqlite3 databases.
    const factory = sqliteFactory(join(dir, 'a.db'), { driver: Database }) as PoolFactory<Database.Database>;
    const p = createPool(factory, { max: 2 });
    const db = await p.acquire();
    db.exec('CREATE TABLE t (x INT)');
    p.release(db);
    expect(await p.acquire()).toBe(db);
    db.exec('BEGIN');
    db.exec('INSERT INTO t VALUES (1)');
    expect(db.inTransaction).toBe(true);
    p.release(db);
    expect(db.open).toBe(false);
    const next = await p.acquire();
    expect(next).not.toBe(db);
    // The destroyed connection's uncommitted row never reached the file.
    expect(next.prepare('SELECT count(*) AS n FROM t').get()).toEqual({ n: 0 });
    p.release(next);
    await p.close();
  });
});
