export type { SequelizeTransactionOptions } from './sequelize-retry-transaction.js';
export { retryTransaction, step } from './sequelize-retry-transaction.js';
