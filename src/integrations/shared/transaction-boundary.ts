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
// SAVEPOINT, RELEASE or ROLLBACK TO ends nothing: ORMs' own nested transactions send them).
const boundary =
  /^(?:begin|start\s+transaction|commit|end|abort|rollback(?!\s+(?:work\s+|transaction\s+)?to\b)|set\s+(?:session\s+|@@)?autocommit|set\s+transaction\s+isolation)\b/i;
// MySQL and MariaDB commit the open transaction before these (the server's "implicit commit" list).
const implicitCommit =
  /^(?:create|alter|drop|rename|truncate|lock\s+tables|unlock\s+tables|load\s+(?:index|data)|analyze|optimize|repair|check\s+table|install|uninstall|grant|revoke|flush|reset|cache\s+index|set\s+password|(?:start|stop)\s+(?:slave|replica|all\s+slaves)|change\s+(?:master|replication))\b/i;
// MySQL and MariaDB: autocommit set anywhere in a SET list (`SET sql_mode = '', @@session.autocommit = 0`).
const setsAutocommit =
  /^set(?=\s)[\s\S]*?[\s,](?:@@(?:session\.|local\.)?|(?:session|local)\s+)?autocommit\s*:?=/i;

/**
 * The SQL an ORM sent inside dbop's transaction, when it would begin, commit or end that transaction on
 * its own (rule 4 of the integrations): a DbopError naming the statement's first words, else undefined.
 * Every statement of a multi-statement string is read, past comments, quoted text and (MySQL family)
 * into executable comments (`/*! COMMIT *\/` runs COMMIT).
 */
export function boundaryViolation(sql: string, dialect: Backend): DbopError | undefined {
  const mysqlFamily = dialect === 'mysql' || dialect === 'mariadb';
  for (const text of statementsOf(sql, mysqlFamily)) {
    const endsIt =
      boundary.test(text) || (mysqlFamily && (implicitCommit.test(text) || setsAutocommit.test(text)));
    if (!endsIt) continue;
    const words = text.split(/\s+/, 3).join(' ');
    return new DbopError(
      'DBOP_TRANSACTION_BOUNDARY',
      `"${words}" inside a transaction dbop owns would begin, commit or end it behind dbop's back; ` +
        'dbop begins and commits it (use step() for a nested savepoint)',
    );
  }
  return undefined;
}

/** Each statement of sql (split at semicolons outside quotes and comments), from its first word. */
function statementsOf(sql: string, mysqlFamily: boolean): string[] {
  const statements: string[] = [];
  let start = skipLeading(sql, 0, mysqlFamily);
  let i = start;
  while (i < sql.length) {
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
  const dollar = mysqlFamily ? i : skipDollar(sql, i);
  return dollar === i ? i + 1 : dollar;
}
