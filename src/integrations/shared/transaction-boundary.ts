import type { Backend } from '../../core/classification.js';
import { DbopError } from '../../core/errors.js';

// Leading comments and whitespace are skipped: `/* x */ COMMIT` ends a transaction like `COMMIT` does.
const leading = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/;
// Statements that begin or end a transaction, or switch autocommit, on every backend dbop knows (a
// SAVEPOINT, RELEASE or ROLLBACK TO ends nothing: ORMs' own nested transactions send them).
const boundary =
  /^(?:begin|start\s+transaction|commit|end|abort|rollback(?!\s+(?:work\s+)?to\b)|set\s+(?:session\s+|@@)?autocommit|set\s+transaction\s+isolation)\b/i;
// MySQL and MariaDB commit the open transaction before these (the server's "implicit commit" list).
const implicitCommit =
  /^(?:create|alter|drop|rename|truncate|lock\s+tables|unlock\s+tables|load\s+(?:index|data)|analyze|optimize|repair|install|uninstall|grant|revoke|flush|reset|cache\s+index)\b/i;

/**
 * The SQL an ORM sent inside dbop's transaction, when it would begin, commit or end that transaction on
 * its own (rule 4 of the integrations): a DbopError naming the statement's first words, else undefined.
 */
export function boundaryViolation(sql: string, dialect: Backend): DbopError | undefined {
  const text = sql.replace(leading, '');
  const endsIt =
    boundary.test(text) || ((dialect === 'mysql' || dialect === 'mariadb') && implicitCommit.test(text));
  if (!endsIt) return undefined;
  const words = text.split(/\s+/, 3).join(' ');
  return new DbopError(
    'DBOP_TRANSACTION_BOUNDARY',
    `"${words}" inside a transaction dbop owns would begin, commit or end it behind dbop's back; ` +
      'dbop begins and commits it (use step() for a nested savepoint)',
  );
}
