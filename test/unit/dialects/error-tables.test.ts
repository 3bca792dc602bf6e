import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorsDocPath, renderErrorsDoc } from '../../../scripts/gen-errors-doc.js';
import { errorKinds, retryScopes } from '../../../src/core/classification.js';
import { cockroachErrors } from '../../../src/dialects/cockroach/cockroach-errors.js';
import { dbopErrors } from '../../../src/dialects/dbop-errors.js';
import { errorChain } from '../../../src/dialects/error-chain.js';
import { compileTable, type ErrorTable } from '../../../src/dialects/error-table.js';
import { mariadbClientErrors, mariadbOnlyErrors } from '../../../src/dialects/mariadb/mariadb-errors.js';
import { mysqlCommonErrors, mysqlOnlyErrors } from '../../../src/dialects/mysql/mysql-errors.js';
import { postgresErrorClasses, postgresErrors } from '../../../src/dialects/postgres/postgres-errors.js';
import { sqliteErrors, sqliteResultCodes } from '../../../src/dialects/sqlite/sqlite-errors.js';

const tables: Record<string, ErrorTable> = {
  postgresErrors,
  postgresErrorClasses,
  cockroachErrors,
  mysqlCommonErrors,
  mysqlOnlyErrors,
  mariadbOnlyErrors,
  mariadbClientErrors,
  sqliteErrors,
  dbopErrors,
};

describe('error tables', () => {
  it.each(Object.entries(tables))(
    '%s: valid kinds and scopes, a note on every line, no duplicates',
    (_name, table) => {
      for (const [code, kind, scope, note] of table) {
        expect(errorKinds).toContain(kind);
        expect(retryScopes).toContain(scope);
        expect(note.length, code).toBeGreaterThan(5);
      }
      expect(() => compileTable(table, undefined)).not.toThrow();
    },
  );

  it('compileTable rejects a duplicate code', () => {
    expect(() =>
      compileTable(
        [
          ['1', 'unknown', 'none', 'one'],
          ['1', 'unknown', 'none', 'two'],
        ],
        'mysql',
      ),
    ).toThrow('Duplicate error code 1 in a mysql table');
  });

  it('keeps the per-flavor numbers apart (C2): no number is both MySQL-only and MariaDB-only or common', () => {
    const common = new Set(mysqlCommonErrors.map(([code]) => code));
    const mysqlOnly = mysqlOnlyErrors.map(([code]) => code);
    const mariadbOnly = mariadbOnlyErrors.map(([code]) => code);
    for (const code of [...mysqlOnly, ...mariadbOnly]) expect(common.has(code), code).toBe(false);
    expect(mariadbOnly).not.toContain('3024');
    expect(mariadbOnly).not.toContain('4031');
    expect(mysqlOnly).toEqual(expect.arrayContaining(['3024', '4031']));
  });

  it('has a number for every SQLite name it maps from node:sqlite', () => {
    for (const name of Object.keys(sqliteResultCodes))
      expect(sqliteErrors.map(([code]) => code)).toContain(name);
  });
});

describe('errorChain', () => {
  it('lists each error once, outermost first, through every cause key', () => {
    const leaf = new Error('leaf');
    const agg = new AggregateError([leaf, leaf], 'agg');
    const root = Object.assign(new Error('root', { cause: agg }), {
      parent: leaf,
      original: leaf,
      driverError: leaf,
    });
    (leaf as Error & { cause?: unknown }).cause = root;
    expect(errorChain(root)).toEqual([root, agg, leaf]);
  });
});

describe('docs/errors.md', () => {
  it('is generated from the current tables (run `npx tsx scripts/gen-errors-doc.ts` when this fails)', () => {
    expect(readFileSync(errorsDocPath, 'utf8')).toBe(renderErrorsDoc());
  });
});
