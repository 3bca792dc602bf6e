export type { Mysql2SessionOptions } from './mysql2-session.js';
export { mysql2Session } from './mysql2-session.js';
export type { Mysql2ConnectionLike, Mysql2Queryable } from './mysql2-types.js';
