export type { KyselyTransactionOptions } from './kysely-retry-transaction.js';
export { retryTransaction, step } from './kysely-retry-transaction.js';
