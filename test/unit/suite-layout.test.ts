import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const unitDir = import.meta.dirname;

// PGlite takes seconds to start on a loaded machine; the unit project's timeouts are sized for pure logic
// and in-memory SQLite. A test that starts PGlite belongs in test/embedded (vitest.config.ts).
const startsPglite = /createDatabase\(\s*(\{\s*url:\s*)?['"`]pglite:|new PGlite\b|PGlite\.create\(/;

describe('the unit project', () => {
  it('starts no PGlite instance (those tests live in test/embedded)', () => {
    const offenders = readdirSync(unitDir, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') && file !== 'suite-layout.test.ts')
      .filter((file) => startsPglite.test(readFileSync(join(unitDir, file), 'utf8')));
    expect(offenders).toEqual([]);
  });
});
