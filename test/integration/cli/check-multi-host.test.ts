import { expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { freePort } from '../../support/harness/exec.js';
import { describeIfPostgres, sharedServers } from '../../support/servers.js';
import { recordingIo } from '../../unit/cli/cli-test-io.js';

describeIfPostgres('dbop check on a multi-host URL (shared primary + 2 standbys)', () => {
  it('reports every host: role, standby lag, version, latency; unreachable ones with why; no password', async () => {
    const pg = sharedServers().postgres!;
    const closed = await freePort();
    const ports = [pg.primary.port, ...pg.standbys.map((s) => s.port), closed];
    // target_session_attrs does not hide the standbys from a check: each host is reported as it is.
    const url = `postgres://postgres:Pw-s3cret@${ports.map((p) => `127.0.0.1:${p}`).join(',')}/dbop?target_session_attrs=read-write`;
    const io = recordingIo();
    expect(await main(['check', '--url', url, '--json'], io)).toBe(1);
    const hosts = JSON.parse(io.out()) as {
      host: string;
      reachable: boolean;
      role?: string;
      lag?: { bytes: number };
    }[];
    expect(hosts.map((h) => [h.host, h.reachable, h.role])).toEqual([
      [`127.0.0.1:${pg.primary.port}`, true, 'primary'],
      [`127.0.0.1:${pg.standbys[0]!.port}`, true, 'standby'],
      [`127.0.0.1:${pg.standbys[1]!.port}`, true, 'standby'],
      [`127.0.0.1:${closed}`, false, undefined],
    ]);
    expect(hosts[0]!.lag).toBeUndefined();
    expect(hosts[1]!.lag?.bytes).toBeGreaterThanOrEqual(0);
    const text = recordingIo();
    await main(['check', '--url', url], text);
    expect(text.out()).toMatch(/standby {2}lag \d+ bytes/);
    expect(io.out() + io.err() + text.out() + text.err()).not.toContain('Pw-s3cret');
  });

  it('reports a host listed twice once', async () => {
    const pg = sharedServers().postgres!;
    const standby = pg.standbys[0]!.port;
    const url = `postgres://postgres@127.0.0.1:${pg.primary.port},127.0.0.1:${standby},127.0.0.1:${standby}/dbop`;
    const io = recordingIo();
    expect(await main(['check', '--url', url, '--json'], io)).toBe(0);
    const hosts = JSON.parse(io.out()) as { host: string }[];
    expect(hosts.map((h) => h.host)).toEqual([`127.0.0.1:${pg.primary.port}`, `127.0.0.1:${standby}`]);
  });
});
