import { Writable } from 'node:stream';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { retryPolicy } from '../../../src/core/retry-policy.js';
import { execute } from '../../../src/execute.js';

it('real pino is a logger as it is: one JSON line per retry and per outcome, with kind and code', async () => {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const logger = pino({ level: 'info', base: null }, stream);
  let calls = 0;
  await execute(
    () => {
      calls += 1;
      if (calls === 1) throw Object.assign(new Error('connection reset'), { code: 'ECONNRESET' });
      return 'ok';
    },
    { name: 'load-user', readOnly: true, logger, policy: retryPolicy({ maxRetries: 2, initialDelayMs: 1 }) },
  );
  await new Promise((r) => setImmediate(r));
  expect(lines.map((l) => [l.level, l.msg])).toEqual([
    [40, 'load-user failed'],
    [30, 'load-user done'],
  ]);
  expect(lines[0]).toMatchObject({
    attempt: 1,
    retryable: true,
    kind: 'connection-lost',
    code: 'ECONNRESET',
  });
  expect(lines[1]).toMatchObject({ attempts: 2 });
});
