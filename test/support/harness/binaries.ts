import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, run } from './exec.js';

/** Debian packages that provide the test servers. */
const packages = {
  postgres: ['postgresql'],
  mariadb: ['mariadb-server', 'mariadb-client'],
  galera: ['galera-4', 'rsync', 'mariadb-server'],
  // Patroni with etcd as its DCS (python3-etcd is the v2 client Patroni's `etcd:` section uses), HAProxy
  // routing to the leader, pgbouncer in front. Postgres itself comes from `postgresql`.
  ha: [
    'postgresql',
    'patroni',
    'etcd-server',
    'etcd-client',
    'python3-etcd',
    'python3-psycopg2',
    'haproxy',
    'pgbouncer',
  ],
} as const;

type Kind = keyof typeof packages;

/** The PostgreSQL server bin directory (initdb, pg_ctl, pg_basebackup), newest version first. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

function present(kind: Kind): boolean {
  switch (kind) {
    case 'postgres':
      return postgresBinDir() !== undefined;
    case 'mariadb':
      return existsSync('/usr/sbin/mariadbd') && existsSync('/usr/bin/mariadb-install-db');
    case 'galera':
      return (
        present('mariadb') && existsSync('/usr/lib/galera/libgalera_smm.so') && existsSync('/usr/bin/rsync')
      );
    case 'ha':
      return (
        present('postgres') &&
        ['/usr/bin/patroni', '/usr/bin/etcd', '/usr/sbin/haproxy', '/usr/sbin/pgbouncer'].every(existsSync) &&
        // Patroni's etcd client, which Debian's patroni package only recommends.
        existsSync('/usr/lib/python3/dist-packages/etcd')
      );
  }
}

/**
 * Makes sure the server binaries exist: installs the Debian packages when we are root, otherwise fails with
 * the exact command to run.
 */
export async function ensureBinaries(kind: Kind): Promise<void> {
  if (present(kind)) return;
  const names = packages[kind];
  if (!isRoot) {
    throw new Error(`${kind} binaries are missing: run \`sudo apt-get install -y ${names.join(' ')}\``);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update'], { env, timeoutMs: 600_000 });
  // Wait for dpkg's lock rather than fail, should another install run at the same time.
  await run(
    'apt-get',
    ['install', '-y', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=600', ...names],
    {
      env,
      timeoutMs: 900_000,
    },
  );
  if (!present(kind))
    throw new Error(`installed ${names.join(' ')} but the ${kind} binaries are still missing`);
}
