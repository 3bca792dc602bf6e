/**
 * Runs the fault matrix ({Postgres, MariaDB, SQLite} x eight real faults, on private servers it starts) and
 * prints it as the markdown table docs/reliability.md holds: `npx tsx scripts/fault-matrix.ts`.
 * Exits 1 when a cell failed (no success, no typed error, or the invariant broken).
 */
import { matrixTable, runMatrix } from './fault-matrix/matrix.js';

const cells = await runMatrix((cell) => console.error(`${cell.backend} / ${cell.fault}: ${cell.outcome}`));
console.log(matrixTable(cells));
process.exit(cells.every((cell) => cell.outcome !== 'FAILED') ? 0 : 1);
