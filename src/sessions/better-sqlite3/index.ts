export type { SqliteDatabaseLike, SqliteStatementLike } from './better-sqlite3-types.js';
export type { SqliteSessionOptions } from './sqlite-session.js';
export { sqliteSession } from './sqlite-session.js';
