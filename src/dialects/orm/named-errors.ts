import type { ErrorTable } from '../error-table.js';

/** Code-less wrapper errors recognised by `name` (ORMs and pools that add a class but no code). */
export const namedErrors: ErrorTable = [
  [
    'KnexTimeoutError',
    'pool-exhausted',
    'none',
    'Knex: timeout acquiring a connection; the pool already waited',
  ],
  ['SequelizeConnectionAcquireTimeoutError', 'pool-exhausted', 'none', 'Sequelize: pool acquire timeout'],
];

/**
 * DB-API style names (dbop-core parity): an error with one of these names anywhere in its chain is
 * transient when a message in the chain carries one of {@link operationalWords}.
 */
export const operationalNames: ReadonlySet<string> = new Set([
  'OperationalError',
  'InterfaceError',
  'TimeoutError',
]);

/** Words that make an operational-named error transient, with the kind they suggest; first match wins. */
export const operationalWords: ErrorTable = [
  ['deadlock', 'deadlock', 'transaction', 'a deadlock'],
  ['lock wait', 'lock-timeout', 'statement', 'a lock wait timeout'],
  ['gone away', 'connection-lost', 'connection', 'server has gone away'],
  ['lost connection', 'connection-lost', 'connection', 'lost connection during query'],
  ['connection reset', 'connection-lost', 'connection', 'connection reset by peer'],
  ['timeout', 'statement-timeout', 'statement', 'any other timeout'],
];
