export { pgPoolSource } from './pg-pool-source.js';
export type { PgSessionOptions } from './pg-session.js';
export { pgSession } from './pg-session.js';
export type {
  PgClientLike,
  PgPoolClientOf,
  PgPooledClientLike,
  PgPoolLike,
  PgQueryable,
  PgResultLike,
} from './pg-types.js';
