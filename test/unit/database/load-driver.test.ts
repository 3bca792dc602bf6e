import { describe, expect, it } from 'vitest';
import type { DriverName } from '../../../src/connect/dsn.js';
import { isDbopError } from '../../../src/core/errors.js';
import { DriverMissingError } from '../../../src/database/database-errors.js';
import { loadDriver } from '../../../src/database/load-driver.js';
import { importPg } from '../../../src/sessions/pg/pg-connect.js';

// Names no installed driver has, so these tests never share loadDriver's cache with real ones.
const fake = (name: string): DriverName => name as DriverName;

describe('loadDriver', () => {
  it('names the package to install when the driver is missing', async () => {
    // A real import() of a package that is not installed, standing in for the driver.
    const name = fake('dbop-no-such-driver-package');
    const error = await loadDriver(name, () => import(name as string)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverMissingError);
    expect(isDbopError(error, 'DBOP_DRIVER_MISSING')).toBe(true);
    expect((error as DriverMissingError).packageName).toBe(name);
    expect((error as Error).message).toBe(
      `The "${name}" driver is not installed. Install it with: npm install ${name}`,
    );
    expect(((error as Error).cause as { code?: string }).code).toBe('ERR_MODULE_NOT_FOUND');
  });

  it('passes other import failures through unchanged, and tries again on the next call', async () => {
    const broken = Object.assign(new Error("Cannot find package 'bindings' imported from better-sqlite3"), {
      code: 'ERR_MODULE_NOT_FOUND',
    });
    const name = fake('better-sqlite3-test-a');
    const error = await loadDriver(name, async () => {
      throw broken;
    }).catch((e: unknown) => e);
    expect(error).toBe(broken);
    await expect(loadDriver(name, async () => 'now installed')).resolves.toBe('now installed');
  });

  it('imports a driver once and shares it', async () => {
    let calls = 0;
    const importer = async (): Promise<unknown> => {
      calls += 1;
      return { ok: true };
    };
    const [a, b] = await Promise.all([
      loadDriver(fake('pg-test-once'), importer),
      loadDriver(fake('pg-test-once'), importer),
    ]);
    expect(a).toBe(b);
    expect(calls).toBe(1);
  });

  it("loads the installed drivers for real through their sessions folder's import()", async () => {
    const pg = (await loadDriver('pg', importPg)) as { default: { Pool: unknown } };
    expect(typeof pg.default.Pool).toBe('function');
  });
});
