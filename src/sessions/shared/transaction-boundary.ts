import type { Backend } from '../../core/classification.js';
import { DbopError } from '../../core/errors.js';
import {
  backslashEscapes,
  skipBlockComment,
  skipDollar,
  skipLine,
  skipQuoted,
} from '../../database/bind-parameters.js';

// Statements that begin or end a transaction, or switch autocommit, on every backend dbop knows (a
// SAVEPOINT, RELEASE or ROLLBACK TO ends nothing: ORMs' own nested transactions send them). END is a
// COMMIT on PostgreSQL and SQLite only; MariaDB's BEGIN NOT ATOMIC ... END is a compound statement.
const boundary =
  /^(?:begin(?!\s+not\s+atomic\b)|start\s+transaction|commit|abort|rollback(?!\s+(?:work\s+|transaction\s+)?to\b)|set\s+(?:session\s+|@@)?autocommit|set\s+transaction\s+isolation)\b/i;
// MySQL and MariaDB commit the open transaction before these (the server's "implicit commit" list), but
// not before CREATE or DROP of a TEMPORARY table.
const implicitCommit =
  /^(?:(?:create|drop)(?!\s+temporary\b)|alter|rename|truncate|lock\s+tables|unlock\s+tables|load\s+(?:index|data)|analyze|optimize|repair|check\s+table|install|uninstall|grant|revoke|flush|reset|cache\s+index|set\s+password|(?:start|stop)\s+(?:slave|replica|all\s+slaves)|change\s+(?:master|replication))\b/i;
// MySQL and MariaDB: autocommit set anywhere in a SET list (`SET sql_mode = '', @@session.autocommit = 0`).
const setsAutocommit =
  /^set(?=\s)[\s\S]*?[\s,](?:@@(?:session\.|local\.)?|(?:session|local)\s+)?autocommit\s*:?=/i;

/**
 * The SQL an ORM sent inside dbop's transaction, when it would begin, commit or end that transaction on
 * its own (rule 4 of the integrations): a DbopError naming the statement's first words, else undefined.
 */
export function boundaryViolation(sql: string, dialect: Backend): DbopError | undefined {
  const words = boundaryStatement(sql, dialect);
  if (words === undefined) return undefined;
  return new DbopError(
    'DBOP_TRANSACTION_BOUNDARY',
    `"${words}" inside a transaction dbop owns would begin, commit or end it behind dbop's back; ` +
      'dbop begins and commits it (use step() for a nested savepoint)',
  );
}

/**
 * The first words of the first statement in sql that would begin, commit or end a transaction, else
 * undefined. Every statement of a multi-statement string is read, past comments, quoted text and (MySQL
 * family) into executable comments (`/*! COMMIT *\/` runs COMMIT).
 */
export function boundaryStatement(sql: string, dialect: Backend): string | undefined {
  const mysqlFamily = dialect === 'mysql' || dialect === 'mariadb';
  // One statement and no comment (the usual case): its first word is all there is to read, without a scan
  // of every character (30 µs for 300 characters, on every statement of a unit).
  const texts = separatorOrComment.test(sql) ? statementsOf(sql, mysqlFamily) : [sql.trimStart()];
  for (const text of texts) {
    const endsIt =
      boundary.test(text) ||
      (mysqlFamily ? implicitCommit.test(text) || setsAutocommit.test(text) : /^end\b/i.test(text));
    if (endsIt) return text.split(/\s+/, 3).join(' ');
  }
  return undefined;
}

// Without any of these (quoted or not), the text is one statement from its first word.
const separatorOrComment = /[;#]|--|\/\*/;

/**
 * What a unit's body meets when a statement of its own ends the transaction dbop began for it (COMMIT,
 * ROLLBACK, one that commits implicitly): `words` names the statement, when known; `sent` when it ran. Never
 * retried: work the body committed would run twice.
 */
export function endedByBody(words: string | undefined, sent: boolean): DbopError {
  const what =
    words === undefined
      ? 'A statement of the unit (its own COMMIT or ROLLBACK, or on MySQL and MariaDB one that commits implicitly, as DDL does)'
      : `"${words}"`;
  const happened = sent
    ? 'ended the transaction dbop began for the unit: its work may have committed or been undone, and later statements would run in autocommit, so the unit fails and is not retried'
    : 'would end the transaction dbop began for the unit (refused, not sent)';
  return new DbopError(
    'DBOP_TRANSACTION_BOUNDARY',
    `${what} ${happened}. Return from the unit to commit or throw to roll back (and run DDL outside units); use acquire() to control the transaction yourself`,
  );
}

/** Each statement of sql (split at semicolons outside quotes and comments), from its first word. */
function statementsOf(sql: string, mysqlFamily: boolean): string[] {
  const statements: string[] = [];
  let start = skipLeading(sql, 0, mysqlFamily);
  let i = start;
  // Straight to the next character that can start a token longer than itself, or end a statement.
  const next = mysqlFamily ? /[;'"`\-/#]/g : /[;'"\-/$]/g;
  while (i < sql.length) {
    next.lastIndex = i;
    const found = next.exec(sql);
    if (found === null) break;
    i = found.index;
    if (sql[i] === ';') {
      statements.push(sql.slice(start, i));
      start = skipLeading(sql, i + 1, mysqlFamily);
      i = start;
    } else {
      i = skipToken(sql, i, mysqlFamily);
    }
  }
  statements.push(sql.slice(start));
  return statements;
}

/** Past whitespace, comments and empty statements; into a MySQL executable comment's SQL. */
function skipLeading(sql: string, from: number, mysqlFamily: boolean): number {
  let i = from;
  for (;;) {
    const next = /^\s+|^;/.test(sql.slice(i, i + 1)) ? i + 1 : skipComment(sql, i, mysqlFamily);
    if (next === i) return i;
    i = next;
  }
}

/** The index after the comment starting at i (i itself when none starts there). */
function skipComment(sql: string, i: number, mysqlFamily: boolean): number {
  if (sql.startsWith('--', i) || (mysqlFamily && sql[i] === '#')) return skipLine(sql, i);
  if (!sql.startsWith('/*', i)) return i;
  // MySQL and MariaDB run what is inside /*! ... */ and /*M! ... */: only the opener is a comment.
  const executable = mysqlFamily ? /^\/\*M?!\d*/.exec(sql.slice(i, i + 12)) : null;
  if (executable !== null) return i + executable[0].length;
  return skipBlockComment(sql, i, !mysqlFamily);
}

/** The index after the token at i: a quoted string or identifier, a comment, a dollar quote, or one character. */
function skipToken(sql: string, i: number, mysqlFamily: boolean): number {
  const c = sql[i] as string;
  if (c === "'" || c === '"' || (mysqlFamily && c === '`')) {
    const backslash = c !== '`' && backslashEscapes(sql, i, mysqlFamily ? 'mysql' : 'postgres');
    return skipQuoted(sql, i, c, backslash);
  }
  const comment = skipComment(sql, i, mysqlFamily);
  if (comment !== i) return comment;
  // Only at a dollar sign: skipDollar reads the rest of the text, once per character otherwise.
  const dollar = mysqlFamily || c !== '$' ? i : skipDollar(sql, i);
  return dollar === i ? i + 1 : dollar;
}
