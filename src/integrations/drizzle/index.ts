export type {
  DrizzleDatabaseLike,
  DrizzleTransactionOf,
  DrizzleTransactionOptions,
} from './drizzle-retry-transaction.js';
export { retryTransaction, step } from './drizzle-retry-transaction.js';
