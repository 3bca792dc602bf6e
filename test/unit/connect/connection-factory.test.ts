import { describe, expect, it } from 'vitest';
import { connectionFactory, type HostDriver, shuffled } from '../../../src/connect/connection-factory.js';
import type { DsnHost } from '../../../src/connect/dsn.js';
import { NoHostAvailableError } from '../../../src/connect/no-host-available-error.js';
import type { HostRole } from '../../../src/connect/target-session-attrs.js';
import { classify } from '../../../src/dialects/classify.js';
import { readRoleProbe } from '../../../src/dialects/role-probe.js';

const primary: HostRole = { readOnly: false, standby: false };
const standby: HostRole = { readOnly: true, standby: true };

/** A fake cluster: each host (by port) has a role, or an error to connect with, or never answers. */
function fakeDriver(cluster: Record<number, HostRole | Error | 'hang'>) {
  const opened: number[] = [];
  const discarded: number[] = [];
  const driver: HostDriver<number> = {
    async open(host: DsnHost) {
      const port = host.port!;
      opened.push(port);
      const entry = cluster[port];
      if (entry === 'hang') return new Promise<number>(() => undefined);
      if (entry instanceof Error) throw entry;
      return port;
    },
    async role(port: number) {
      return cluster[port] as HostRole;
    },
    async discard(port: number) {
      discarded.push(port);
    },
  };
  return { driver, opened, discarded };
}

const url = 'postgres://app:s3cretPw@127.0.0.1:1,127.0.0.1:2,127.0.0.1:3/shop';

describe('connectionFactory', () => {
  it('tries hosts in order and returns the first with the role asked for', async () => {
    const { driver, opened, discarded } = fakeDriver({ 1: standby, 2: primary, 3: standby });
    const factory = connectionFactory({ dsn: url, targetSessionAttrs: 'read-write', driver });
    const got = await factory.connect();
    expect(got.host.port).toBe(2);
    expect(got.role).toEqual(primary);
    expect(opened).toEqual([1, 2]);
    expect(discarded).toEqual([1]);
  });

  it('a host listed twice is one host: tried once per connect (a hanging one costs one timeout, not two)', async () => {
    const { driver, opened } = fakeDriver({ 1: 'hang', 2: primary });
    const factory = connectionFactory({
      dsn: 'postgres://app@127.0.0.1:1,127.0.0.1:1,127.0.0.1:2,127.0.0.1:1/shop',
      targetSessionAttrs: 'read-write',
      connectTimeoutMs: 20,
      driver,
    });
    expect(factory.hosts.map((h) => h.port)).toEqual([1, 2]);
    expect((await factory.connect()).host.port).toBe(2);
    expect(opened).toEqual([1, 2]);
  });

  it('tries the host that matched last first, until told to forget it', async () => {
    const { driver, opened } = fakeDriver({ 1: standby, 2: primary, 3: standby });
    const factory = connectionFactory({ dsn: url, targetSessionAttrs: 'primary', driver });
    await factory.connect();
    opened.length = 0;
    await factory.connect();
    expect(opened).toEqual([2]);
    factory.forget({ host: '127.0.0.1', port: 2 });
    opened.length = 0;
    await factory.connect();
    expect(opened).toEqual([1, 2]);
  });

  it('a host that could not be reached is tried last for hostRecheckMs', async () => {
    const { driver, opened } = fakeDriver({ 1: new Error('connect ECONNREFUSED'), 2: primary, 3: primary });
    const factory = connectionFactory({ dsn: url, driver, targetSessionAttrs: 'read-write' });
    await factory.connect();
    factory.forget({ host: '127.0.0.1', port: 2 });
    opened.length = 0;
    await factory.connect();
    expect(opened).toEqual([2]);
    const again = connectionFactory({ dsn: url, driver, hostRecheckMs: 0 });
    await again.connect();
    again.forget({ host: '127.0.0.1', port: 2 });
    opened.length = 0;
    await again.connect();
    expect(opened).toEqual([1, 2]);
  });

  it('reads target_session_attrs from the URL, and any takes the first host that connects', async () => {
    const { driver } = fakeDriver({
      1: new Error('connect ECONNREFUSED 127.0.0.1:1'),
      2: standby,
      3: primary,
    });
    expect(connectionFactory({ dsn: url, driver }).targetSessionAttrs).toBe('any');
    expect((await connectionFactory({ dsn: url, driver }).connect()).host.port).toBe(2);
    const standbyFirst = connectionFactory({ dsn: `${url}?target_session_attrs=standby`, driver });
    expect(standbyFirst.targetSessionAttrs).toBe('standby');
    expect((await standbyFirst.connect()).host.port).toBe(2);
  });

  it('prefer-standby takes a standby, else falls back to the first usable primary', async () => {
    const a = fakeDriver({ 1: primary, 2: standby, 3: standby });
    const got = await connectionFactory({
      dsn: url,
      targetSessionAttrs: 'prefer-standby',
      driver: a.driver,
    }).connect();
    expect(got.host.port).toBe(2);
    expect(a.discarded).toEqual([1]);
    const b = fakeDriver({
      1: new Error('down'),
      2: primary,
      3: { ...primary, unavailable: 'Galera node not synced' },
    });
    const fallback = await connectionFactory({
      dsn: url,
      targetSessionAttrs: 'prefer-standby',
      driver: b.driver,
    }).connect();
    expect(fallback.host.port).toBe(2);
    expect(b.discarded).toEqual([3]);
  });

  it('read-only, standby and primary follow libpq: read-only accepts a read-only primary', async () => {
    const readOnlyPrimary: HostRole = { readOnly: true, standby: false };
    const { driver } = fakeDriver({ 1: readOnlyPrimary, 2: standby, 3: primary });
    const pick = async (targetSessionAttrs: 'read-only' | 'standby' | 'primary' | 'read-write') =>
      (await connectionFactory({ dsn: url, targetSessionAttrs, driver }).connect()).host.port;
    expect(await pick('read-only')).toBe(1);
    expect(await pick('standby')).toBe(2);
    expect(await pick('primary')).toBe(1);
    expect(await pick('read-write')).toBe(3);
  });

  it('fails with NoHostAvailableError listing each host and its reason, without the password', async () => {
    const { driver, discarded } = fakeDriver({
      1: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      2: standby,
      3: 'hang',
    });
    const factory = connectionFactory({
      dsn: url,
      targetSessionAttrs: 'read-write',
      connectTimeoutMs: 50,
      driver,
    });
    const error = await factory.connect().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NoHostAvailableError);
    const failure = error as NoHostAvailableError;
    expect(failure.code).toBe('DBOP_NO_HOST_AVAILABLE');
    expect(failure.failures.map((f) => f.host)).toEqual(['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:3']);
    expect(failure.failures[0]!.reason).toContain('ECONNREFUSED');
    expect(failure.failures[1]!.reason).toBe('standby (read-only), not read-write');
    expect(failure.failures[2]!.reason).toContain('timed out after 50 ms connecting');
    expect(failure.message).toContain('target_session_attrs=read-write');
    expect(`${failure.message}${JSON.stringify(failure)}`).not.toContain('s3cretPw');
    expect(discarded).toEqual([2]);
    // A failover in progress: the next attempt may find the new primary.
    expect(classify(failure)).toMatchObject({ kind: 'connect-failed', scope: 'connection', retryable: true });
  });

  it('a reason holding a password is redacted', async () => {
    const { driver } = fakeDriver({
      1: new Error('could not connect to postgres://app:hunter22@db/x'),
      2: standby,
      3: standby,
    });
    const error = (await connectionFactory({ dsn: url, targetSessionAttrs: 'primary', driver })
      .connect()
      .catch((e: unknown) => e)) as Error;
    expect(error.message).not.toContain('hunter22');
  });

  it('a connection that arrives after the timeout is discarded, not leaked', async () => {
    let release: (port: number) => void = () => undefined;
    const discarded: number[] = [];
    const driver: HostDriver<number> = {
      open: (host) => (host.port === 1 ? new Promise<number>((r) => (release = r)) : Promise.resolve(2)),
      role: async () => primary,
      discard: async (port) => void discarded.push(port),
    };
    const got = await connectionFactory({ dsn: url, connectTimeoutMs: 20, driver }).connect();
    expect(got.host.port).toBe(2);
    release(1);
    await new Promise((r) => setImmediate(r));
    expect(discarded).toEqual([1]);
  });

  it('loadBalanceHosts shuffles the order on each connect, from the URL too', async () => {
    const { driver, opened } = fakeDriver({ 1: primary, 2: primary, 3: primary });
    const values = [0.99, 0.0];
    const random = () => values.shift() ?? 0.5;
    const factory = connectionFactory({ dsn: `${url}?load_balance_hosts=random`, driver, random });
    await factory.connect();
    // Fisher-Yates with 0.99 then 0.0: [1,2,3] -> [1,2,3] (i=2,j=2) -> [2,1,3] (i=1,j=0).
    expect(opened).toEqual([2]);
    expect(shuffled([1, 2, 3, 4], () => 0)).toEqual([2, 3, 4, 1]);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i += 1) seen.add(shuffled([1, 2, 3], Math.random).join());
    expect(seen.size).toBe(6);
  });

  it('refuses bad options with a precise TypeError', () => {
    const { driver } = fakeDriver({});
    expect(() => connectionFactory({ driver })).toThrow(/hosts/);
    expect(() => connectionFactory({ dsn: url, driver, targetSessionAttrs: 'master' as never })).toThrow(
      /targetSessionAttrs.*read-write/,
    );
    expect(() => connectionFactory({ dsn: url, driver, connectTimeoutMs: 0 })).toThrow(/connectTimeoutMs/);
    expect(() => connectionFactory({ hosts: [{ host: 'a', port: 70000 }], driver })).toThrow(/port/);
    expect(() => connectionFactory({ dsn: url, driver, retries: 3 } as never)).toThrow(/retries/);
  });
});

describe('readRoleProbe', () => {
  it('reads Postgres pg_is_in_recovery and transaction_read_only', () => {
    const rows = (r: string, ro: string) => [
      { name: 'in_recovery', value: r },
      { name: 'transaction_read_only', value: ro },
    ];
    expect(readRoleProbe('postgres', rows('false', 'off'))).toEqual({ readOnly: false, standby: false });
    expect(readRoleProbe('postgres', rows('true', 'on'))).toEqual({ readOnly: true, standby: true });
    expect(readRoleProbe('postgres', rows('false', 'on'))).toEqual({ readOnly: true, standby: false });
  });

  it('reads MySQL read_only / super_read_only and Galera state', () => {
    const v = (name: string, value: string) => ({ Variable_name: name, Value: value });
    expect(readRoleProbe('mysql', [v('read_only', 'OFF'), v('super_read_only', 'OFF')])).toEqual({
      readOnly: false,
      standby: false,
    });
    expect(readRoleProbe('mysql', [v('read_only', 'OFF'), v('super_read_only', 'ON')]).readOnly).toBe(true);
    // MariaDB without Galera: wsrep_ready is OFF, but wsrep_on too: not a Galera node at all.
    expect(
      readRoleProbe('mariadb', [v('read_only', 'OFF'), v('wsrep_on', 'OFF'), v('wsrep_ready', 'OFF')]),
    ).toEqual({
      readOnly: false,
      standby: false,
    });
    expect(
      readRoleProbe('mariadb', [
        v('read_only', 'OFF'),
        v('wsrep_on', 'ON'),
        v('wsrep_ready', 'ON'),
        v('wsrep_local_state', '4'),
      ]),
    ).toEqual({
      readOnly: false,
      standby: false,
    });
    expect(
      readRoleProbe('mariadb', [v('wsrep_on', 'ON'), v('read_only', 'OFF'), v('wsrep_ready', 'OFF')])
        .unavailable,
    ).toMatch(/wsrep_ready off/);
    expect(
      readRoleProbe('mariadb', [
        v('wsrep_on', 'ON'),
        v('wsrep_ready', 'ON'),
        v('wsrep_local_state', '2'),
        v('wsrep_local_state_comment', 'Donor/Desynced'),
      ]).unavailable,
    ).toMatch(/not synced \(wsrep_local_state 2 donor\/desynced\)/);
  });
});
