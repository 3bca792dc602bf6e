import { expect, it } from 'vitest';
import { type Cell, matrixTable, runMatrix } from '../../../scripts/fault-matrix/matrix.js';
import { describeIfMariadb, describeIfPostgres } from '../../support/servers.js';

// {Postgres, MariaDB, SQLite} x eight real faults on private servers the matrix starts (it stops and kills
// them): every cell ends in success or a typed error with the invariant kept, or says why it cannot apply.
// docs/reliability.md holds this table as `npx tsx scripts/fault-matrix.ts` printed it.
describeIfPostgres('fault matrix', () => {
  describeIfMariadb('Postgres, MariaDB and SQLite', () => {
    it('every cell ends in success or a typed error, invariant kept', async () => {
      const cells: Cell[] = await runMatrix();
      console.log(matrixTable(cells));
      expect(cells).toHaveLength(24);
      for (const cell of cells) {
        const where = `${cell.backend} / ${cell.fault}: ${cell.detail}`;
        expect({
          where,
          outcome: cell.outcome === 'FAILED' ? 'FAILED' : 'ended well',
          invariant: cell.invariant,
        }).toEqual({
          where,
          outcome: 'ended well',
          invariant: true,
        });
      }
      // Only faults SQLite cannot meet are skipped.
      expect(cells.filter((c) => c.outcome === 'n/a').map((c) => `${c.backend} ${c.fault}`)).toEqual([
        'sqlite statement timeout',
        'sqlite killed mid-transaction',
        'sqlite killed during COMMIT',
        'sqlite server restart',
      ]);
    }, 300_000);
  });
});
