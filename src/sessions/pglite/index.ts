export { pgliteSession } from './pglite-session.js';
export type { PgliteLike } from './pglite-types.js';
