import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureBinaries } from './binaries.js';
import { freePort, run, tempDir } from './exec.js';
import { initDataDir, MariadbServer } from './mariadb.js';

/** A private Galera cluster of MariaDB nodes, each on its own set of 127.0.0.1 ports. */
export interface GaleraCluster {
  readonly nodes: readonly MariadbServer[];
  readonly dir: string;
  destroy(): Promise<void>;
}

/**
 * Starts `size` Galera nodes: the first bootstraps the cluster, the others join it by rsync SST. Slower
 * than a single server (each join copies the data directory), so only tests that need certification
 * conflicts or node loss start one.
 */
export async function startGalera(size = 3): Promise<GaleraCluster> {
  await ensureBinaries('galera');
  const dir = await tempDir('dbop-galera-', 'mysql');
  const ports = await Promise.all(
    Array.from({ length: size }, async () => ({
      sql: await freePort(),
      group: await freePort(),
      ist: await freePort(),
      sst: await freePort(),
    })),
  );
  const address = `gcomm://${ports.map((p) => `127.0.0.1:${p.group}`).join(',')}`;
  const nodes: MariadbServer[] = [];
  const destroy = async (): Promise<void> => {
    await Promise.allSettled(nodes.map((n) => n.kill9()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const [i, p] of ports.entries()) {
      const nodeDir = join(dir, `node${i + 1}`);
      await run('mkdir', ['-p', nodeDir]);
      await run('chown', ['mysql', nodeDir]).catch(() => {});
      await initDataDir(nodeDir);
      const node = new MariadbServer(nodeDir, p.sql, [
        '--wsrep-on=ON',
        '--wsrep-provider=/usr/lib/galera/libgalera_smm.so',
        '--wsrep-cluster-name=dbop-test',
        `--wsrep-node-name=node${i + 1}`,
        `--wsrep-cluster-address=${address}`,
        `--wsrep-node-address=127.0.0.1:${p.group}`,
        `--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:${p.group};ist.recv_addr=127.0.0.1:${p.ist};gcache.size=32M`,
        '--wsrep-sst-method=rsync',
        `--wsrep-sst-receive-address=127.0.0.1:${p.sst}`,
        '--binlog-format=ROW',
        '--innodb-autoinc-lock-mode=2',
        // A node applies the writes it received from the others asynchronously: without a causality wait a
        // read on one node can miss a write another node already committed (a CI run saw `SELECT` on node 1
        // return nothing right after an INSERT on node 2). Tests read what they wrote through any node.
        '--wsrep-sync-wait=1',
      ]);
      nodes.push(node);
      if (i === 0) {
        await node.start(['--wsrep-new-cluster']);
        await run('mariadb', [
          '--no-defaults',
          '-uroot',
          `--socket=${node.socket}`,
          '-e',
          galeraBootstrapSql,
        ]);
      } else {
        await node.start();
      }
    }
    return { nodes, dir, destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}

// Users and grants replicate through Galera, so they are created once on the bootstrap node.
const galeraBootstrapSql = [
  "ALTER USER 'root'@'localhost' IDENTIFIED BY 'dbop'",
  "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'",
  "ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY 'dbop'",
  "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION",
  'CREATE DATABASE dbop',
].join(';');
