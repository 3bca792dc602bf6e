export type { MariadbFactoryConnection, MariadbFactoryOptions } from './factories/mariadb-factory.js';
export { mariadbFactory } from './factories/mariadb-factory.js';
export type { Mysql2FactoryConnection, Mysql2FactoryOptions } from './factories/mysql2-factory.js';
export { mysql2Factory } from './factories/mysql2-factory.js';
export type { PgFactoryClient, PgFactoryOptions } from './factories/pg-factory.js';
export { pgFactory } from './factories/pg-factory.js';
export type { PgliteFactoryInstance, PgliteFactoryOptions } from './factories/pglite-factory.js';
export { pgliteFactory } from './factories/pglite-factory.js';
export type { SqliteFactoryDatabase, SqliteFactoryOptions } from './factories/sqlite-factory.js';
export { sqliteFactory } from './factories/sqlite-factory.js';
export { PersistentConnection, persistentConnection } from './persistent-connection.js';
export type { AcquireOptions, PoolStats } from './pool.js';
export { createPool, openPoolStats, Pool, PoolLease } from './pool.js';
export type {
  DestroyReason,
  PoolAcquireMessage,
  PoolCountsMessage,
  PoolCreateMessage,
  PoolDestroyMessage,
  PoolLeakMessage,
  PoolReleaseMessage,
  PoolTimeoutMessage,
} from './pool-channels.js';
export { poolChannelNames } from './pool-channels.js';
export type { PoolHolder, PoolTimeoutDetails } from './pool-errors.js';
export {
  ConnectionEndedOnOpenError,
  ConnectionNotAcquiredError,
  PoolClosedError,
  PoolTimeoutError,
  poolErrorCodes,
} from './pool-errors.js';
export type { ConnectionStatus, PoolFactory } from './pool-factory.js';
export type {
  PoolLogger,
  PoolOptions,
  PoolPingMode,
  PoolResetMode,
  ResolvedPoolOptions,
} from './pool-options.js';
export { connectionFailure, poolPingModes, poolResetModes } from './pool-options.js';
export type { SteadyConnectionOptions, SteadyPingMode } from './steady-connection.js';
export { SteadyConnection, steadyConnection, steadyPingModes } from './steady-connection.js';
export type { WaitTimePercentiles } from './wait-times.js';
