import type { Backend, Classification } from '../core/classification.js';
import { type ErrorTable, makeClassification, withBackend } from './error-table.js';
import { mysqlMessages } from './mysql/mysql-client-errors.js';
import { namedErrors, operationalNames, operationalWords } from './orm/named-errors.js';
import { pgExactMessages, postgresMessages } from './postgres/postgres-client-errors.js';
import { sqliteMessages } from './sqlite/sqlite-errors.js';

type Compiled = readonly (readonly [text: string, verdict: Classification])[];

// No `code` on these verdicts: a text or a class name is not a code the driver gave.
function compileList(table: ErrorTable, backend: Backend | undefined): Compiled {
  return table.map(([text, kind, scope, , flag]) => [
    text,
    makeClassification(kind, scope, backend, undefined, flag),
  ]);
}

const exact = new Map(compileList(pgExactMessages, 'postgres'));
const substrings: Compiled = [
  ...compileList(postgresMessages, 'postgres'),
  ...compileList(mysqlMessages, 'mysql'),
  ...compileList(sqliteMessages, 'sqlite'),
];
const names = new Map(compileList(namedErrors, undefined));
const words: Compiled = compileList(operationalWords, undefined);

/**
 * The fallback for errors whose chain carries no code dbop knows: known wrapper names, then the messages of
 * code-less errors, outermost first (a wrapper's words are the more specific: pg-pool's "connection timeout"
 * around pg's "Connection terminated"), then dbop-core's rule for DB-API style OperationalError names.
 */
export function classifyByMessage(
  nodes: readonly object[],
  dialect: Backend | undefined,
): Classification | undefined {
  let operational = false;
  for (const node of nodes) {
    const name = (node as Record<string, unknown>).name;
    if (typeof name !== 'string') continue;
    const named = names.get(name);
    if (named !== undefined) return withBackend(named, dialect);
    if (operationalNames.has(name)) operational = true;
  }
  const texts: string[] = [];
  for (const node of nodes) {
    const record = node as Record<string, unknown>;
    if (typeof record.message !== 'string' || record.message === '') continue;
    const text = record.message.toLowerCase();
    texts.push(text);
    if (record.code !== undefined || record.errno !== undefined || record.errcode !== undefined) continue;
    const hit = exact.get(text) ?? substrings.find(([part]) => text.includes(part))?.[1];
    if (hit !== undefined) return withBackend(hit, dialect);
  }
  if (!operational) return undefined;
  for (const text of texts) {
    const hit = words.find(([word]) => text.includes(word))?.[1];
    if (hit !== undefined) return withBackend(hit, dialect);
  }
  return undefined;
}
