import type { Backend, Classification } from '../../core/classification.js';
import { backends } from '../../core/classification.js';
import { classify } from '../../dialects/classify.js';
import type { CliCommand } from '../cli-command.js';
import type { CliIo } from '../cli-io.js';
import { isListedErrorCode } from '../listed-error-code.js';
import { parseCommandArgs } from '../parse-command-args.js';
import { UsageError } from '../usage-error.js';

const help = `Usage: dbop classify CODE [--backend B] [--json]

Shows how dbop classifies an error code: its kind, whether a retry can help, and at which scope.

  CODE            a PostgreSQL SQLSTATE (40001), a MySQL/MariaDB errno (1213), an SQLite code name
                  (SQLITE_BUSY) or a Node error code (ECONNRESET)
  --backend B     ${backends.join(', ')}; guessed from CODE when absent (a bare errno shows mysql and mariadb)
  --json          print the classifications as JSON

Exit code 0 when dbop knows CODE, 1 when no table of dbop lists it (an error with such a code is
classified unknown: not retried), 2 for bad usage.

Examples:
  dbop classify 40P01
  dbop classify 4031
  dbop classify SQLITE_BUSY_SNAPSHOT
`;

/** `dbop classify CODE [--backend B]`: the classification of an error code, per backend. */
export const classifyCommand: CliCommand = {
  name: 'classify',
  summary: 'show how dbop classifies an error code (kind, retryable, scope)',
  help,
  async run(args: readonly string[], io: CliIo): Promise<number> {
    const parsed = parseCommandArgs(
      'classify',
      args,
      { backend: { type: 'string' }, json: { type: 'boolean' } },
      1,
    );
    const code = parsed.positionals[0];
    if (code === undefined || code.trim() === '')
      throw new UsageError('dbop classify: missing CODE (e.g. 40001, 1213, SQLITE_BUSY)');
    const backend = parsed.values.backend as string | undefined;
    if (backend !== undefined && !(backends as readonly string[]).includes(backend)) {
      throw new UsageError(
        `dbop classify: --backend must be one of ${backends.join(', ')}, got "${backend}"`,
      );
    }
    const found = candidates(code.trim(), backend as Backend | undefined);
    const results = found.map(([dialect, error]) =>
      classify(error, dialect === undefined ? {} : { dialect }),
    );
    const unknown = (result: Classification): boolean =>
      result.kind === 'unknown' && !isListedErrorCode(result.code ?? code.trim());
    if (results.every(unknown)) {
      const where = found.map(([dialect]) => dialect ?? 'Node').join(' or ');
      io.stderr.write(
        `dbop classify: unknown code "${code.trim()}": no ${where} error table of dbop lists it, so an error ` +
          'with this code is classified unknown and never retried\n',
      );
      return 1;
    }
    if (parsed.values.json === true) {
      io.stdout.write(`${JSON.stringify(results.length === 1 ? results[0] : results, null, 2)}\n`);
    } else {
      for (const result of results) io.stdout.write(`${describe(code.trim(), result)}\n`);
    }
    return 0;
  },
};

/** Error-shaped objects like the ones each driver raises for `code`. */
function candidates(code: string, backend: Backend | undefined): Array<[Backend | undefined, object]> {
  const numeric = /^\d+$/.test(code);
  const forBackend = (dialect: Backend): [Backend, object] => [dialect, errorFor(dialect, code)];
  if (backend !== undefined) return [forBackend(backend)];
  if (/^SQLITE_[A-Z_]+$/i.test(code)) return [forBackend('sqlite')];
  if (/^ER_[A-Z0-9_]+$/i.test(code)) return [forBackend('mysql')];
  if (/^E[A-Z]+$/.test(code)) return [[undefined, systemError(code)]];
  // MariaDB's client codes (45009 socket closed...) sit where no SQLSTATE class does.
  if (/^45\d{3}$/.test(code)) return [forBackend('mariadb')];
  if (/^[0-9A-Z]{5}$/i.test(code)) return [forBackend('postgres')];
  if (numeric && code.length <= 4) return [forBackend('mysql'), forBackend('mariadb')];
  throw new UsageError(`dbop classify: cannot tell which backend "${code}" belongs to; pass --backend`);
}

function errorFor(dialect: Backend, code: string): object {
  const error = new Error(`(dbop classify ${code})`) as Error & Record<string, unknown>;
  if (dialect === 'postgres' || dialect === 'cockroach') {
    error.code = code.toUpperCase();
    error.severity = 'ERROR';
  } else if (dialect === 'sqlite') {
    error.name = 'SqliteError';
    if (/^\d+$/.test(code)) error.errcode = Number(code);
    else error.code = code.toUpperCase();
  } else if (/^\d+$/.test(code)) {
    error.errno = Number(code);
  } else {
    error.code = code.toUpperCase();
  }
  return error;
}

function systemError(code: string): object {
  return Object.assign(new Error(`(dbop classify ${code})`), { code, syscall: 'read' });
}

function describe(code: string, result: Classification): string {
  const flags = [
    result.retryable ? 'retryable' : 'not retryable',
    `scope ${result.scope}`,
    ...(result.ambiguous ? ['ambiguous'] : []),
  ];
  return `${result.backend ?? 'node'} ${result.code ?? code}: ${result.kind} (${flags.join(', ')})`;
}
