import { describe, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { DriverMissingError } from '../../../src/database/database-errors.js';
import { loadDriver } from '../../../src/database/load-driver.js';

describe('loadDriver', () => {
  it('names the package to install when the driver is missing', async () => {
    // A real import of a package that is not installed, standing in for the driver.
    const error = await loadDriver('mariadb', 'dbop-no-such-driver-package').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverMissingError);
    expect(isDbopError(error, 'DBOP_DRIVER_MISSING')).toBe(true);
    expect((error as DriverMissingError).packageName).toBe('mariadb');
    expect((error as Error).message).toBe(
      'The "mariadb" driver is not installed. Install it with: npm install mariadb',
    );
    expect(((error as Error).cause as { code?: string }).code).toBe('ERR_MODULE_NOT_FOUND');
  });

  it('passes other import failures through unchanged', async () => {
    const broken = Object.assign(new Error("Cannot find package 'bindings' imported from better-sqlite3"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    const error = await loadDriver('better-sqlite3', 'better-sqlite3-test-a', async () => {
      throw broken;
    }).catch((e: unknown) => e);
    expect(error).toBe(broken);
  });

  it('imports a driver once and shares it', async () => {
    let calls = 0;
    const importer = async (): Promise<unknown> => {
      calls += 1;
      return { ok: true };
    };
    const [a, b] = await Promise.all([
      loadDriver('pg', 'pg-test-once', importer),
      loadDriver('pg', 'pg-test-once', importer),
    ]);
    expect(a).toBe(b);
    expect(calls).toBe(1);
  });

  it('loads the installed drivers for real', async () => {
    const pg = (await loadDriver('pg')) as { default: { Pool: unknown } };
    expect(typeof pg.default.Pool).toBe('function');
  });
});
