export type { PostgresJsSessionOptions } from './postgres-js-session.js';
export { postgresJsSession } from './postgres-js-session.js';
export type {
  PostgresJsPendingQuery,
  PostgresJsQueryable,
  PostgresJsReservedLike,
} from './postgres-js-types.js';
