import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/loaded-drivers.mjs', import.meta.url));
const index = fileURLToPath(new URL('../../../src/index.ts', import.meta.url));

async function driversLoaded(...args: string[]): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', fixture, ...args], {
    cwd: fileURLToPath(new URL('../../..', import.meta.url)),
  });
  return JSON.parse(stdout) as string[];
}

// API.md: drivers are optional peers and importing 'dbop' never loads one; each is imported from its
// sessions folder on first use.
describe("importing 'dbop'", () => {
  it('loads no driver package', async () => {
    expect(await driversLoaded(index)).toEqual([]);
  }, 30_000);

  it('dbop/drizzle loads no driver either (a better-sqlite3-only user has neither pg nor mysql2)', async () => {
    const drizzle = fileURLToPath(new URL('../../../src/integrations/drizzle/index.ts', import.meta.url));
    expect(await driversLoaded(drizzle)).toEqual([]);
  }, 30_000);

  it('loads exactly the driver a URL needs, on first use (the detector sees drivers)', async () => {
    expect(await driversLoaded(index, 'sqlite')).toEqual(['better-sqlite3']);
  }, 30_000);
});

const drivers: Readonly<Record<string, string>> = {
  pg: 'pg',
  postgres: 'postgres-js',
  mysql2: 'mysql2',
  mariadb: 'mariadb',
  'better-sqlite3': 'better-sqlite3',
  '@electric-sql/pglite': 'pglite',
};
// Other optional peers, each imported only by the subpath it serves (dbop/otel).
const peerFolders: Readonly<Record<string, string>> = {
  '@opentelemetry/api': 'otel',
  kysely: join('integrations', 'kysely'),
  knex: join('integrations', 'knex'),
  'drizzle-orm': join('integrations', 'drizzle'),
  sequelize: join('integrations', 'sequelize'),
};

describe('driver imports (API.md layers)', () => {
  it('happen only in src/sessions/<driver>/, and only there as a runtime import', () => {
    const src = fileURLToPath(new URL('../../../src', import.meta.url));
    const offenders: string[] = [];
    for (const file of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts')) continue;
      const text = readFileSync(join(src, file), 'utf8');
      const runtime =
        /(?:^|\n)\s*(?:import|export)\s+(?!type\b)[^'"]*?from\s+'([^'.][^']*)'|import\(\s*'([^'.][^']*)'\s*\)/g;
      for (const match of text.matchAll(runtime)) {
        const specifier = (match[1] ?? match[2])!;
        if (specifier.startsWith('node:')) continue;
        const name = specifier.startsWith('@')
          ? specifier.split('/').slice(0, 2).join('/')
          : specifier.split('/')[0]!;
        const folder = drivers[name];
        if (peerFolders[name] !== undefined && dirname(file) === peerFolders[name]) continue;
        if (folder === undefined || dirname(file) !== join('sessions', folder))
          offenders.push(`${file} -> ${specifier}`);
      }
      // A computed import() could load anything: none is allowed.
      if (/import\(\s*[^'\s)]/.test(text)) offenders.push(`${file} -> import(<computed>)`);
    }
    expect(offenders).toEqual([]);
  });
});
