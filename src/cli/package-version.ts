import { readFileSync } from 'node:fs';

/**
 * dbop's version from its package.json, two folders up from this file both in src/cli (a clone) and in
 * dist/cli (the installed package).
 */
export function packageVersion(): string {
  const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
  const { name, version } = JSON.parse(text) as { name?: unknown; version?: unknown };
  if (name !== 'dbop' || typeof version !== 'string') {
    throw new Error(`dbop: no version in ${new URL('../../package.json', import.meta.url).pathname}`);
  }
  return version;
}
