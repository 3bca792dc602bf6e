import type { Classification } from '../../core/classification.js';
import { compileTable, makeClassification } from '../error-table.js';
import { sqliteErrors, sqliteResultCodes } from './sqlite-errors.js';

const byName = compileTable(sqliteErrors, 'sqlite');
const nameByNumber: ReadonlyMap<number, string> = new Map(
  Object.entries(sqliteResultCodes).map(([name, value]) => [value, name]),
);

/** Classifies a SQLite result code name; an extended code without an entry falls back to its primary code. */
export function classifySqliteName(name: string): Classification | undefined {
  const hit = byName.get(name);
  if (hit !== undefined) return hit;
  const second = name.indexOf('_', 7); // after 'SQLITE_'
  if (second === -1) return undefined;
  const primary = byName.get(name.slice(0, second));
  return primary === undefined ? undefined : makeClassification(primary.kind, primary.scope, 'sqlite', name);
}

/** Classifies a numeric SQLite result code (extended codes keep their primary code in the low byte). */
export function classifySqliteNumber(code: number): Classification | undefined {
  const name = nameByNumber.get(code);
  if (name !== undefined) return byName.get(name);
  const primaryName = nameByNumber.get(code & 0xff);
  const primary = primaryName === undefined ? undefined : byName.get(primaryName);
  return primary === undefined
    ? undefined
    : makeClassification(primary.kind, primary.scope, 'sqlite', String(code));
}
