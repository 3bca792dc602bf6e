import { afterAll, beforeAll, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { createDatabase } from '../../../src/database/create-database.js';
import type { Database } from '../../../src/database/database.js';
import { describeIfPostgres, type PgCluster, startPostgres } from '../../support/servers.js';
import { recordingIo } from '../../unit/cli/cli-test-io.js';

interface LogRecord {
  readonly level: string;
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

function recordingLogger(): { logs: LogRecord[]; logger: Record<string, (o: object, m: string) => void> } {
  const logs: LogRecord[] = [];
  const at =
    (level: string) =>
    (fields: object, message: string): void => {
      logs.push({ level, message, fields: fields as Record<string, unknown> });
    };
  return { logs, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

// A private server: these tests stop it and start it again.
describeIfPostgres('createDatabase survives a server that refuses connections (private server)', () => {
  let cluster: PgCluster | undefined;
  let url: string;

  beforeAll(async () => {
    cluster = await startPostgres();
    url = cluster.primary.url;
    await cluster.primary.stop('fast');
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  const open = (extra: object = {}): Promise<Database> =>
    createDatabase({
      url,
      maxRetries: 2,
      initialDelayMs: 20,
      maxDelayMs: 20,
      jitter: 'none',
      outageMs: 0,
      ...extra,
    });

  it('run() and query() retry a refused connect, then throw the original ECONNREFUSED; stats count each', async () => {
    const { logs, logger } = recordingLogger();
    const db = await open({ logger });
    try {
      for (const call of [() => db.query('SELECT 1'), () => db.run((conn) => conn.execute('SELECT 1'))]) {
        logs.length = 0;
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(Error);
        expect((error as { code?: string }).code).toBe('ECONNREFUSED');
        expect(logs.map((l) => [l.level, l.fields.attempt, l.fields.kind])).toEqual([
          ['warn', 1, 'connect-failed'],
          ['warn', 2, 'connect-failed'],
          ['error', 3, 'connect-failed'],
        ]);
      }
      expect(db.stats().errors).toEqual({
        total: 6,
        byKind: { 'connect-failed': 6 },
        byCode: { 'postgres:ECONNREFUSED': 6 },
      });
      expect(db.stats().pool.inUse).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('acquire() does not retry, but counts the connect failure too', async () => {
    const db = await open();
    try {
      await expect(db.acquire((conn) => conn.execute('SELECT 1'))).rejects.toMatchObject({
        code: 'ECONNREFUSED',
      });
      expect(db.stats().errors.byCode).toEqual({ 'postgres:ECONNREFUSED': 1 });
    } finally {
      await db.close();
    }
  });

  it('`dbop run` retries the connect and reports each retry on stderr', async () => {
    const io = recordingIo();
    const code = await main(['run', '--url', url, '--retries', '2', 'SELECT 1'], io);
    expect(code).toBe(1);
    const lines = io.err().trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^retry 1: connect-failed ECONNREFUSED, waiting \d+ ms$/);
    expect(lines[1]).toMatch(/^retry 2: connect-failed ECONNREFUSED, waiting \d+ ms$/);
    expect(lines[2]).toMatch(/^dbop: ECONNREFUSED connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
  });

  it('a query succeeds once the server is back within the retry window', async () => {
    const db = await open({ maxRetries: 60, initialDelayMs: 100, maxDelayMs: 100 });
    try {
      const pending = db.query<{ ok: number }>('SELECT 1 AS ok');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(db.stats().errors.byKind['connect-failed']).toBeGreaterThan(0);
      await cluster!.primary.start();
      expect((await pending).rows).toEqual([{ ok: 1 }]);
      expect(db.stats().pool.inUse).toBe(0);
    } finally {
      await db.close();
      await cluster!.primary.stop('fast');
    }
  });
});
