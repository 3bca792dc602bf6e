export type { TypeormTransactionOptions } from './typeorm-retry-transaction.js';
export { retryTransaction, step } from './typeorm-retry-transaction.js';
