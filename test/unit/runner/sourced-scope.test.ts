import { describe, expect, it } from 'vitest';
import type { Session, SessionSource } from '../../../src/core/session.js';
import { postgresSql } from '../../../src/dialects/postgres/postgres-sql.js';
import { DbOpRunner } from '../../../src/runner/index.js';
import { DriverSession } from '../../../src/sessions/shared/driver-session.js';

// Scope lifecycle over a SessionSource: pure bookkeeping, so fake sessions record what would be sent.
function fakeSource(acquireDelays: number[], failOn?: (id: number, sql: string) => unknown) {
  const log: string[] = [];
  let out = 0;
  let n = 0;
  const make = (id: number): Session =>
    new DriverSession<null>({
      dialect: 'postgres',
      sql: postgresSql(),
      raw: null,
      async query(sql) {
        log.push(`#${id} ${sql}`);
        const failure = failOn?.(id, sql);
        if (failure !== undefined) throw failure;
        return { rows: [], rowCount: 0 };
      },
      async batch(statements) {
        log.push(`#${id} ${statements.join('; ')}`);
        for (const sql of statements) {
          const failure = failOn?.(id, sql);
          if (failure !== undefined) throw failure;
        }
        return [];
      },
      destroy() {
        log.push(`#${id} destroyed`);
      },
    });
  const source: SessionSource = {
    acquire: () =>
      new Promise((resolve) => {
        const id = ++n;
        setTimeout(
          () => {
            out += 1;
            log.push(`acquired #${id}`);
            resolve(make(id));
          },
          acquireDelays[id - 1] ?? 1,
        );
      }),
    release: async (session) => {
      out -= 1;
      log.push(`released${session.destroyed ? ' destroyed' : ''}`);
    },
  };
  return { source, log, checkedOut: () => out };
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('runner.transaction over a SessionSource', () => {
  it('a session that arrives after the attempt timed out is given back at once, never begun', async () => {
    const { source, log, checkedOut } = fakeSource([300]);
    const runner = new DbOpRunner({
      maxRetries: 2,
      initialDelayMs: 1,
      jitter: 'none',
      defaultLockTimeoutMs: null,
    });
    const value = await runner.transaction(source, (s) => s.query('SELECT 1').then(() => 'ok'), {
      attemptTimeoutMs: 100,
    });
    expect(value).toBe('ok');
    await wait(400);
    expect(checkedOut()).toBe(0);
    expect(log.filter((line) => line.startsWith('#1'))).toEqual([]);
  });

  it('a failed cleanup destroys that session; the retry runs on a fresh one and the work completes', async () => {
    const lost = Object.assign(new Error('could not serialize access'), { code: '40001' });
    const { source, log, checkedOut } = fakeSource([], (id, sql) => {
      if (id === 1 && sql === 'UPDATE t') return lost;
      if (id === 1 && sql === 'ROLLBACK') return new Error('socket hang up');
      return undefined;
    });
    const runner = new DbOpRunner({
      maxRetries: 2,
      initialDelayMs: 1,
      jitter: 'none',
      defaultLockTimeoutMs: null,
    });
    await runner.transaction(source, (s) => s.query('UPDATE t'));
    expect(log).toContain('#1 destroyed');
    expect(log).toContain('released destroyed');
    expect(log).toContain('#2 COMMIT');
    expect(checkedOut()).toBe(0);
  });
});
