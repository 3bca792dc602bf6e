import type { CliIo } from './cli-io.js';
import { UsageError } from './usage-error.js';

/** The URL a command works on: --url, else the DATABASE_URL environment variable; a usage error without either. */
export function commandUrl(command: string, flag: string | boolean | undefined, io: CliIo): string {
  if (typeof flag === 'string') return flag;
  const fromEnv = io.env.DATABASE_URL;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  throw new UsageError(`dbop ${command}: --url is required when DATABASE_URL is not set`);
}
