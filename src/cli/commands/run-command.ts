import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { parseDsn } from '../../connect/parse-dsn.js';
import { channelNames, type RetryMessage } from '../../core/diagnostics.js';
import { createDatabase } from '../../database/create-database.js';
import type { CliCommand } from '../cli-command.js';
import type { CliIo } from '../cli-io.js';
import { commandUrl } from '../command-url.js';
import { formatRows } from '../format-rows.js';
import { integerFlag, parseCommandArgs } from '../parse-command-args.js';
import { UsageError } from '../usage-error.js';

const help = `Usage: dbop run [--url URL] [--read-only] [--lock-timeout MS] [--statement-timeout MS] [--retries N] [--json] SQL

Runs one SQL statement as a dbop step: in its own transaction, with retries for transient errors
(serialization failures, deadlocks, lock timeouts, lost connections) and per-attempt server timeouts.
Rows go to stdout; attempts and retries to stderr.

  --url URL               postgres://, mysql://, mariadb://, sqlite:PATH or pglite:PATH;
                          default: the DATABASE_URL environment variable
  --read-only             run in a read-only transaction
  --lock-timeout MS       lock wait limit of each attempt (default 10000)
  --statement-timeout MS  statement time limit of each attempt (default none)
  --retries N             retries after the first attempt (default 5)
  --json                  print the rows as JSON

Examples:
  dbop run --url postgres://postgres@localhost/postgres "SELECT now()"
  dbop run --url sqlite:./app.db --read-only "SELECT count(*) AS n FROM users"
`;

/** `dbop run`: one statement as a retried step (K2). */
export const runCommand: CliCommand = {
  name: 'run',
  summary: 'run one SQL statement with retries and per-attempt timeouts',
  help,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const parsed = parseCommandArgs(
      'run',
      args,
      {
        url: { type: 'string' },
        'read-only': { type: 'boolean' },
        'lock-timeout': { type: 'string' },
        'statement-timeout': { type: 'string' },
        retries: { type: 'string' },
        json: { type: 'boolean' },
      },
      1,
    );
    const url = commandUrl('run', parsed.values.url, io);
    const sql = parsed.positionals[0];
    if (sql === undefined || sql.trim() === '')
      throw new UsageError('dbop run: missing the SQL statement to run');
    parseDsn(url);
    const range = { min: 1, max: 86_400_000, fallback: 0 };
    const lockTimeoutMs = integerFlag('run', parsed, 'lock-timeout', range);
    const statementTimeoutMs = integerFlag('run', parsed, 'statement-timeout', range);
    const maxRetries = integerFlag('run', parsed, 'retries', { min: 0, max: 100, fallback: 5 });
    const name = 'dbop run';
    let retries = 0;
    const onRetry = (message: unknown): void => {
      const retry = message as RetryMessage;
      if (retry.name !== name) return;
      retries += 1;
      io.stderr.write(
        `retry ${retry.attempt}: ${retry.classification?.kind ?? 'error'} ${retry.classification?.code ?? ''}, waiting ${Math.round(retry.delayMs)} ms\n`,
      );
    };
    // --retries N is a count the user chose: it also bounds riding out an outage (default: 15 s of it).
    const outage = parsed.values.retries === undefined ? {} : { outageMs: 0 };
    const db = await createDatabase({ url, max: 1, maxRetries, ...outage });
    subscribe(channelNames.retry, onRetry);
    const started = performance.now();
    try {
      const result = await db.query(sql, undefined, {
        name,
        ...(parsed.values['read-only'] === true ? { readOnly: true } : {}),
        ...(lockTimeoutMs === 0 ? {} : { lockTimeoutMs }),
        ...(statementTimeoutMs === 0 ? {} : { statementTimeoutMs }),
      });
      const elapsed = performance.now() - started;
      io.stdout.write(
        parsed.values.json === true
          ? `${JSON.stringify(result.rows, jsonValue, 2)}\n`
          : formatRows(result.rows),
      );
      io.stderr.write(`${result.rowCount} row(s), ${retries + 1} attempt(s), ${elapsed.toFixed(1)} ms\n`);
      return 0;
    } finally {
      unsubscribe(channelNames.retry, onRetry);
      await db.close();
    }
  },
};

/** BigInt and Buffer values as JSON can show them. */
function jsonValue(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  return value;
}
