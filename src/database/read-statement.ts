// A statement that only reads can be sent again after its connection was lost: nothing it did survives.
// Judged from the text alone, conservatively: any word that can write (or a second statement) makes it
// "may write", even inside a string literal or a comment, so a mistake only ever costs a retry.

const readStarts = new Set(['select', 'show', 'values', 'table', 'explain', 'describe', 'desc', 'with']);

const writeWords = new Set([
  'insert',
  'update',
  'delete',
  'merge',
  'replace',
  'upsert',
  'into',
  'call',
  'do',
  'lock',
  'set',
  'create',
  'drop',
  'alter',
  'truncate',
  'grant',
  'revoke',
  'copy',
  'load',
  'handler',
  'analyze',
  'vacuum',
  'refresh',
  'notify',
  'listen',
  'execute',
  'prepare',
  'savepoint',
  'commit',
  'rollback',
  'begin',
  'start',
]);

/**
 * True when `sql` is one statement that, by its words, only reads (SELECT, SHOW, VALUES, TABLE, EXPLAIN
 * without ANALYZE, WITH without a data-modifying part). Linear in the length of the text.
 * @example isPlainRead('SELECT * FROM player WHERE id = $1') // true
 * @example isPlainRead('SELECT * FROM player FOR UPDATE') // false: 'update' may write
 */
export function isPlainRead(sql: string): boolean {
  // db.query asks on every call, mostly about the same few statements: answered from a bounded memo.
  let read = readMemo.get(sql);
  if (read === undefined) {
    read = scanPlainRead(sql);
    if (sql.length <= memoSqlLength) {
      if (readMemo.size >= memoSize) readMemo.clear();
      readMemo.set(sql, read);
    }
  }
  return read;
}

const readMemo = new Map<string, boolean>();
const memoSize = 256;
const memoSqlLength = 4096;

function scanPlainRead(sql: string): boolean {
  let first: string | undefined;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isWordStart(c)) {
      let j = i + 1;
      while (j < n && isWordPart(sql.charCodeAt(j))) j++;
      const word = sql.slice(i, j).toLowerCase();
      if (first === undefined) {
        if (!readStarts.has(word)) return false;
        first = word;
      } else if (writeWords.has(word)) {
        return false;
      }
      i = j;
      continue;
    }
    // A ';' followed by anything but blanks is a second statement.
    if (c === 59 && sql.slice(i + 1).trim() !== '') return false;
    if (first === undefined && !isBlank(c) && !skipsComment(sql, i)) return false;
    if (first === undefined && skipsComment(sql, i)) {
      i = endOfComment(sql, i);
      continue;
    }
    i++;
  }
  return first !== undefined;
}

function isWordStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}

function isWordPart(c: number): boolean {
  return isWordStart(c) || (c >= 48 && c <= 57) || c === 36;
}

function isBlank(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 40; // '(' may open a parenthesised SELECT
}

function skipsComment(sql: string, i: number): boolean {
  return sql.startsWith('--', i) || sql.startsWith('/*', i);
}

function endOfComment(sql: string, i: number): number {
  if (sql.startsWith('--', i)) {
    const end = sql.indexOf('\n', i);
    return end === -1 ? sql.length : end + 1;
  }
  const end = sql.indexOf('*/', i + 2);
  return end === -1 ? sql.length : end + 2;
}
