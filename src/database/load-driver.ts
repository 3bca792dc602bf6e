import type { DriverName } from '../connect/dsn.js';
import { DriverMissingError } from './database-errors.js';

const loaded = new Map<string, Promise<unknown>>();

/**
 * Runs a driver's importer (the `import()` lives in src/sessions/<driver>/) once and shares the module. A
 * missing package becomes a {@link DriverMissingError} that names the package to install; a failed import
 * is forgotten, so installing the package and calling again works.
 */
export function loadDriver(name: DriverName, importer: () => Promise<unknown>): Promise<unknown> {
  let driver = loaded.get(name);
  if (driver === undefined) {
    driver = importer().catch((error: unknown) => {
      loaded.delete(name);
      throw isMissing(error, name)
        ? new DriverMissingError(
            name,
            `The "${name}" driver is not installed. Install it with: npm install ${name}`,
            { cause: error },
          )
        : error;
    });
    loaded.set(name, driver);
  }
  return driver;
}

/** True only when the driver itself is missing, not a module it imports. */
function isMissing(error: unknown, name: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  const message = String((error as { message?: unknown }).message);
  return message.includes(`'${name}'`) || message.includes(`"${name}"`) || message.includes(`'${name}/`);
}
