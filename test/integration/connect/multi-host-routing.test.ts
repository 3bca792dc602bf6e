import { expect, it } from 'vitest';
import { NoHostAvailableError } from '../../../src/connect/no-host-available-error.js';
import { createDatabase } from '../../../src/database/create-database.js';
import { freePort } from '../../support/harness/exec.js';
import { describeIfMariadb, describeIfPostgres, sharedServers } from '../../support/servers.js';

// Read-only against the shared primary and standbys: nothing here changes a server's role.
describeIfPostgres('multi-host URLs on the shared primary + 2 standbys', () => {
  const ports = () => {
    const pg = sharedServers().postgres!;
    return { primary: pg.primary.port, standbys: pg.standbys.map((s) => s.port) };
  };
  const url = (list: readonly number[], query = '') =>
    `postgres://postgres@${list.map((p) => `127.0.0.1:${p}`).join(',')}/dbop${query}`;

  it('writes go to the primary whatever its place; readOnly work to a standby', async () => {
    const { primary, standbys } = ports();
    const db = await createDatabase(url([standbys[0]!, standbys[1]!, primary]));
    try {
      const port = async (readOnly: boolean) =>
        db.transaction(
          async (conn) =>
            (await conn.execute<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]!.port,
          { readOnly },
        );
      expect(await port(false)).toBe(primary);
      expect(standbys).toContain(await port(true));
      // db.query() of a plain read is not readOnly work: it goes where writes go.
      expect((await db.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0]!.r).toBe(false);
    } finally {
      await db.close();
    }
  });

  it('a pooled connection is one session for its whole life on a multi-host URL too (no per-call wrapper)', async () => {
    // A guard made per checkout, kept in WeakMaps, outlived the young generation: the GC cost the
    // single-host path no longer pays (issue 12's concurrent db.query).
    const { primary, standbys } = ports();
    const db = await createDatabase({ url: url([standbys[0]!, primary]), max: 1 });
    try {
      const seen = new Set<unknown>();
      for (let i = 0; i < 3; i++) await db.run((conn) => void seen.add(conn.session));
      await db.transaction((conn) => void seen.add(conn.session));
      expect(seen.size).toBe(1);
      const readers = new Set<unknown>();
      for (let i = 0; i < 2; i++)
        await db.transaction((conn) => void readers.add(conn.session), { readOnly: true });
      expect(readers.size).toBe(1);
    } finally {
      await db.close();
    }
  });

  it("libpq's keyword form host=a,b port=1,2 works the same", async () => {
    const { primary, standbys } = ports();
    const db = await createDatabase(
      `host=127.0.0.1,127.0.0.1 port=${standbys[0]},${primary} user=postgres dbname=dbop`,
    );
    try {
      const { rows } = await db.query<{ port: number }>('SELECT inet_server_port() AS port');
      expect(rows[0]!.port).toBe(primary);
    } finally {
      await db.close();
    }
  });

  it('readYourWritesMs keeps readOnly work on the primary just after a write', async () => {
    const { primary, standbys } = ports();
    const db = await createDatabase({ url: url([primary, ...standbys]), readYourWritesMs: 600_000 });
    try {
      await db.transaction((conn) => conn.execute('SELECT 1'));
      const port = await db.transaction(
        async (conn) =>
          (await conn.execute<{ port: number }>('SELECT inet_server_port() AS port')).rows[0]!.port,
        { readOnly: true },
      );
      expect(port).toBe(primary);
    } finally {
      await db.close();
    }
  });

  it('target_session_attrs=standby sends everything to a standby, where a write fails as read-only at once', async () => {
    const { primary, standbys } = ports();
    const db = await createDatabase(url([primary, ...standbys], '?target_session_attrs=standby'));
    try {
      const { rows } = await db.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      expect(rows[0]!.r).toBe(true);
      const error = await db.query('CREATE TABLE never_here (n int)').catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('25006');
      // Not mistaken for a failover: one attempt, not a retry loop.
      expect(db.stats().errors.byCode['postgres:25006']).toBe(1);
    } finally {
      await db.close();
    }
  });

  it('with no primary among the hosts: NoHostAvailableError naming each host and its real reason', async () => {
    const { standbys } = ports();
    const closed = await freePort();
    const db = await createDatabase({
      url: url([closed, ...standbys], '?target_session_attrs=primary').replace(
        'postgres@',
        'postgres:pw-S3cret@',
      ),
      maxRetries: 0,
      outageMs: 0,
      // How long a connect waits for a host of the role to appear (a failover) before it gives up.
      connectTimeoutMs: 500,
    });
    try {
      const error = await db.query('SELECT 1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NoHostAvailableError);
      const { failures, message } = error as NoHostAvailableError;
      // Every host, with its reason; a host that refused is tried last on later connects.
      const byHost = new Map(failures.map((f) => [f.host, f.reason]));
      expect([...byHost.keys()].sort()).toEqual([closed, ...standbys].map((p) => `127.0.0.1:${p}`).sort());
      expect(byHost.get(`127.0.0.1:${closed}`)).toMatch(/ECONNREFUSED/);
      expect(byHost.get(`127.0.0.1:${standbys[0]}`)).toBe('standby (read-only), not primary');
      expect(message).not.toContain('pw-S3cret');
    } finally {
      await db.close();
    }
  });
});

describeIfMariadb('multi-host mysql:// and mariadb:// URLs on the shared MariaDB', () => {
  for (const scheme of ['mariadb', 'mysql']) {
    it(`${scheme}://: a host that refuses is skipped; the role probe reads read_only`, async () => {
      const mariadb = sharedServers().mariadb!;
      const closed = await freePort();
      const hosts = `127.0.0.1:${closed},127.0.0.1:${mariadb.port}`;
      // The mariadb connector's pool waits out its acquire timeout on a refused host: keep it short.
      const db = await createDatabase({ url: `${scheme}://root:dbop@${hosts}/dbop`, connectTimeoutMs: 2000 });
      try {
        const { rows } = await db.query<{ port: unknown }>('SELECT @@port AS port');
        expect(Number(rows[0]!.port)).toBe(mariadb.port);
      } finally {
        await db.close();
      }
      const readOnly = await createDatabase({
        url: `${scheme}://root:dbop@${hosts}/dbop?target_session_attrs=read-only`,
        outageMs: 0,
        maxRetries: 0,
        connectTimeoutMs: 2000,
      });
      try {
        const error = (await readOnly.query('SELECT 1').catch((e: unknown) => e)) as NoHostAvailableError;
        expect(error).toBeInstanceOf(NoHostAvailableError);
        expect(error.failures.find((f) => f.host === `127.0.0.1:${mariadb.port}`)?.reason).toBe(
          'primary (read-write), not read-only',
        );
      } finally {
        await readOnly.close();
      }
    });
  }
});
