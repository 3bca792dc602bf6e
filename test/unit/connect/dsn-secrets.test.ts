import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDsn } from '../../../src/connect/format-dsn.js';
import { parseDsn } from '../../../src/connect/parse-dsn.js';
import { redactDsn } from '../../../src/connect/redact-dsn.js';
import { redactSecrets } from '../../../src/connect/redact-secrets.js';
import { isDbopError } from '../../../src/core/errors.js';
import { secretUrlArbitrary } from './dsn-corpus.js';

/** Every way an error or a parsed URL gets printed. */
function printed(value: unknown): string[] {
  const texts = [String(value), inspect(value, { depth: 5 }), JSON.stringify(value) ?? ''];
  if (value instanceof Error) texts.push(value.message, value.stack ?? '');
  return texts;
}

describe('no password in any output, whatever the URL (fast-check)', () => {
  it('parseDsn: errors, the parsed URL, its redacted form and redactDsn() never show it', () => {
    fc.assert(
      fc.property(secretUrlArbitrary, ({ url, core }) => {
        let outputs: string[];
        try {
          const dsn = parseDsn(url);
          outputs = [...printed(dsn), dsn.redacted, redactDsn(url), redactDsn(dsn)];
          // The secret is still there for the driver, just never printed.
          expect(parseDsn(formatDsn(dsn)).password).toBe(dsn.password);
        } catch (error) {
          expect(isDbopError(error, 'DBOP_BAD_URL')).toBe(true);
          outputs = [...printed(error), redactDsn(url)];
        }
        for (const text of outputs) expect(text).not.toContain(core);
      }),
      { numRuns: 2000 },
    );
  }, 120_000);

  it('redactSecrets: a URL quoted in free text loses its userinfo and query passwords', () => {
    const plain = fc.string({
      unit: fc.constantFrom(...'abcXYZ0189-_.~!$*@:/?#&=%+,'.split('')),
      minLength: 1,
    });
    fc.assert(
      fc.property(plain, fc.constantFrom('postgres', 'mysql', 'mariadb'), (password, scheme) => {
        const core = `Zq${password}Zq`;
        for (const text of [
          `could not connect to ${scheme}://app:${core}@db:5432/shop: refused`,
          `at "${scheme}://app:${core}@db/shop"`,
          `${scheme}://db/shop?user=app&password=${encodeURIComponent(core)}`,
          `connect: host=db password=${encodeURIComponent(core)} dbname=x`,
        ]) {
          expect(redactSecrets(text)).not.toContain(core);
        }
      }),
      { numRuns: 500 },
    );
  }, 60_000);
});
