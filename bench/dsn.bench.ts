// parseDsn against what users would write instead: WHATWG `new URL()` (what most code reaches for) and
// pg-connection-string's parse (what pg did with the URL before). Run: npm run bench -- dsn
import { parse as pgParse } from 'pg-connection-string';
import { parseDsn } from '../src/connect/parse-dsn.js';
import { redactSecrets } from '../src/connect/redact-secrets.js';
import type { BenchSuite } from './suite.js';

const typical = 'postgres://app:s3cret@db.internal:5432/shop?sslmode=require&application_name=api';
const long = `postgres://app:s3cret@db.internal:5432/shop?${'application_name=api&'.repeat(300)}x=1`.slice(
  0,
  8000,
);
const message = `could not connect to ${typical}: connection refused `.repeat(20);

export const suite: BenchSuite = {
  name: 'database URL parsing (typical URL; 8 KB URL; 2 KB log line)',
  baseline: 'new URL(typical)',
  batch: 1000,
  cases: {
    'new URL(typical)': () => new URL(typical),
    'pg-connection-string parse(typical)': () => pgParse(typical),
    'parseDsn(typical)': () => parseDsn(typical),
    'new URL(8 KB)': () => new URL(long),
    'parseDsn(8 KB)': () => parseDsn(long),
    'redactSecrets(2 KB log line)': () => redactSecrets(message),
  },
};
