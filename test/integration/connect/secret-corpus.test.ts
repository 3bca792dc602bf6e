import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { parseDsn } from '../../../src/connect/parse-dsn.js';
import { channelNames } from '../../../src/core/diagnostics.js';
import { createDatabase } from '../../../src/database/create-database.js';
import { recordingIo } from '../../unit/cli/cli-test-io.js';
import { secretUrlsByShape } from '../../unit/connect/dsn-corpus.js';

// The fuzz corpus of issue 10 (every shape of bad URL, with a random password wrapped in), end to end:
// createDatabase's errors, a query's errors, db.url, logs, stats, diagnostics messages, and what `dbop run`
// and `dbop check` print. URLs that parse point at 127.0.0.1 (the machine's servers, which refuse the
// made-up user) or at names that do not resolve, so every one fails somewhere along the way.
const corpus = secretUrlsByShape(3);

describe('no password of the URL corpus appears anywhere', () => {
  const published: unknown[] = [];
  const listener = (message: unknown): void => {
    published.push(message);
  };
  beforeAll(() => {
    for (const name of Object.values(channelNames)) subscribe(name, listener);
  });
  afterAll(() => {
    for (const name of Object.values(channelNames)) unsubscribe(name, listener);
  });

  it(`createDatabase, db.url, query errors, logs, stats and diagnostics (${corpus.length} URLs)`, async () => {
    let opened = 0;
    let logged = 0;
    let published_ = 0;
    for (const { url, core, shape } of corpus) {
      const logs: unknown[] = [];
      const record = (level: string) => (fields: object, message: string) =>
        logs.push([level, inspect(fields, { depth: 6 }), message]);
      published.length = 0;
      const seen: string[] = [];
      try {
        const db = await createDatabase({
          url,
          max: 1,
          maxRetries: 1,
          initialDelayMs: 1,
          connectTimeoutMs: 2000,
          logger: {
            debug: record('debug'),
            info: record('info'),
            warn: record('warn'),
            error: record('error'),
          },
        });
        opened += 1;
        try {
          const error = await db.query('SELECT 1').then(
            () => undefined,
            (e: unknown) => e,
          );
          seen.push(db.url, inspect(db, { depth: 6 }), JSON.stringify(db.stats()), ...printed(error));
        } finally {
          await db.close();
        }
      } catch (error) {
        seen.push(...printed(error));
      }
      seen.push(JSON.stringify(logs), inspect(published, { depth: 6 }));
      for (const text of seen) expect(text, shape).not.toContain(core);
      if (logs.length > 0) logged += 1;
      if (published.length > 0) published_ += 1;
    }
    // The corpus reaches every layer: some URLs parse, connect, fail, log and publish.
    expect(opened).toBeGreaterThan(10);
    expect(logged).toBeGreaterThan(10);
    expect(published_).toBeGreaterThan(10);
  }, 300_000);

  it(`dbop run and dbop check: stdout and stderr (${corpus.length} URLs)`, async () => {
    for (const { url, core, shape } of corpus) {
      // mariadb's pool retries a refused login until its 10 s acquire timeout, and `dbop run` has no
      // --timeout: a mariadb: URL that parses is checked through `dbop check` only.
      const slow = url.startsWith('mariadb:') && parses(url);
      for (const args of [
        ...(slow ? [] : [['run', '--url', url, '--retries', '0', 'SELECT 1']]),
        ...(slow ? [] : [['run', '--url', url, '--retries', '0', '--json', 'SELECT 1']]),
        ['check', '--url', url, '--timeout', '2000'],
        ['check', '--url', url, '--timeout', '2000', '--json'],
      ]) {
        const io = recordingIo();
        const code = await main(args, io);
        expect(code, shape).not.toBe(0);
        expect(io.out(), shape).not.toContain(core);
        expect(io.err(), shape).not.toContain(core);
      }
    }
  }, 300_000);
});

function parses(url: string): boolean {
  try {
    parseDsn(url);
    return true;
  } catch {
    return false;
  }
}

function printed(value: unknown): string[] {
  if (value === undefined) return [];
  const texts = [String(value), inspect(value, { depth: 6 }), JSON.stringify(value) ?? ''];
  if (value instanceof Error) texts.push(value.message, value.stack ?? '');
  return texts;
}
