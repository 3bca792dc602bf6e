export type { KnexTransactionOptions } from './knex-retry-transaction.js';
export { retryTransaction, step } from './knex-retry-transaction.js';
