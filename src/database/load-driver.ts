import { DriverMissingError } from './database-errors.js';
import type { DriverName } from './database-url.js';

const loaded = new Map<string, Promise<unknown>>();

/**
 * Imports a driver package on first use, so importing dbop never loads one. A missing package becomes a
 * {@link DriverMissingError} that names the package to install.
 */
export function loadDriver(
  name: DriverName,
  specifier: string = name,
  importer: (specifier: string) => Promise<unknown> = (s) => import(s),
): Promise<unknown> {
  let driver = loaded.get(specifier);
  if (driver === undefined) {
    driver = importer(specifier).catch((error: unknown) => {
      loaded.delete(specifier);
      throw isMissing(error, name) || isMissing(error, specifier)
        ? new DriverMissingError(
            name,
            `The "${name}" driver is not installed. Install it with: npm install ${name}`,
            { cause: error },
          )
        : error;
    });
    loaded.set(specifier, driver);
  }
  return driver;
}

/** True only when the driver itself is missing, not a module it imports. */
function isMissing(error: unknown, name: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  const message = String((error as { message?: unknown }).message);
  return message.includes(`'${name}'`) || message.includes(`"${name}"`);
}
