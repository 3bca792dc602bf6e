import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { channelNames, type OperationMessage } from '../../../src/core/diagnostics.js';
import { execute } from '../../../src/core/execute.js';
import { postgresSql } from '../../../src/dialects/postgres/postgres-sql.js';
import { DbOpRunner } from '../../../src/runner/dbop-runner.js';
import { DriverSession } from '../../../src/sessions/shared/driver-session.js';

function recordOperations(): { messages: OperationMessage[]; stop(): void } {
  const messages: OperationMessage[] = [];
  const listener = (message: unknown): void => {
    messages.push(message as OperationMessage);
  };
  subscribe(channelNames.operation, listener);
  return { messages, stop: () => unsubscribe(channelNames.operation, listener) };
}

describe('execute: the operation target on dbop:operation', () => {
  const target = Object.freeze({
    system: 'postgresql',
    namespace: 'shop',
    address: 'db.internal',
    port: 5432,
  });

  it('is published on start and on end, success or failure', async () => {
    const seen = recordOperations();
    try {
      await execute(() => 1, { name: 'ok', target });
      await expect(
        execute(
          () => {
            throw new Error('no');
          },
          { name: 'bad', target, policy: { maxRetries: 0 } },
        ),
      ).rejects.toThrow('no');
    } finally {
      seen.stop();
    }
    const mine = seen.messages.filter((m) => m.name === 'ok' || m.name === 'bad');
    expect(mine.map((m) => [m.name, m.phase, m.target])).toEqual([
      ['ok', 'start', target],
      ['ok', 'end', target],
      ['bad', 'start', target],
      ['bad', 'end', target],
    ]);
  });

  it('is absent (not undefined) when the call has none', async () => {
    const seen = recordOperations();
    try {
      await execute(() => 1, { name: 'plain' });
    } finally {
      seen.stop();
    }
    for (const m of seen.messages.filter((x) => x.name === 'plain')) expect('target' in m).toBe(false);
  });

  it.each([
    [null, /`target`/],
    ['postgres', /`target`/],
    [{}, /`target.system`/],
    [{ system: '' }, /`target.system`/],
    [{ system: 'mysql', port: 70000 }, /`target.port`/],
    [{ system: 'mysql', port: 1.5 }, /`target.port`/],
    [{ system: 'mysql', namespace: 7 }, /`target.namespace`/],
    [{ system: 'mysql', password: 'x' }, /Unknown/i],
  ])('refuses target %j with an error naming it', async (bad, message) => {
    await expect(execute(() => 1, { target: bad as never })).rejects.toThrow(message);
    expect(() => new DbOpRunner({ target: bad as never })).toThrow(message);
  });

  it("a runner's target reaches every unit it runs", async () => {
    const runner = new DbOpRunner({ target });
    const seen = recordOperations();
    try {
      const session = new DriverSession<null>({
        dialect: 'postgres',
        sql: postgresSql(),
        raw: null,
        query: async () => ({ rows: [], rowCount: 0 }),
        batch: async () => [],
        destroy: () => undefined,
      });
      expect(await runner.run(session, () => 1, { name: 'unit' })).toBe(1);
    } finally {
      seen.stop();
    }
    const start = seen.messages.find((m) => m.name === 'unit' && m.phase === 'start');
    expect(start?.target).toEqual(target);
  });
});
