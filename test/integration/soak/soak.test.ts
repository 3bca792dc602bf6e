import { expect, it } from 'vitest';
import { runSoak, soakTable } from '../../../scripts/soak/soak-run.js';
import { describeIfMariadb, describeIfPostgres } from '../../support/servers.js';

// CI's short soak: the same code as `npm run soak`, about a minute, on private servers the soak starts itself
// (it stops and kills them). Every audit of every phase must hold.
describeIfPostgres('chaos soak (short)', () => {
  describeIfMariadb('on Postgres and MariaDB', () => {
    it('keeps every invariant through kills, an outage and an exhausted pool', async () => {
      const summary = await runSoak({ seconds: 60, workers: 32 });
      console.log(soakTable(summary));
      expect(summary.phases.map((p) => `${p.backend} ${p.phase}`)).toHaveLength(8);
      for (const phase of summary.phases) {
        expect({ where: `${phase.backend} ${phase.phase}`, ...phase.audit }).toEqual({
          where: `${phase.backend} ${phase.phase}`,
          totalUnchanged: true,
          acknowledgedInLedger: true,
          failedNotCommitted: true,
          ledgerMatchesBalances: true,
          connectionsLeft: 0,
          unhandledRejections: 0,
        });
        // The workload really ran through the fault, and the fault really struck.
        expect(phase.committed).toBeGreaterThan(0);
        expect(phase.faults).toBeGreaterThan(0);
      }
      expect(summary.ok).toBe(true);
    }, 300_000);
  });
});
