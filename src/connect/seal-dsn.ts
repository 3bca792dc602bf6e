import type { Backend } from '../core/classification.js';
import {
  type DriverName,
  type Dsn,
  type DsnHost,
  type DsnScheme,
  printableQueryKey,
  printableQueryValue,
} from './dsn.js';
import { formatDsnParts } from './format-dsn.js';

/** The parts of a {@link Dsn} before sealing: everything but the password and the redacted form. */
export type DsnParts = Omit<Dsn, 'password' | 'redacted'>;

/**
 * A frozen Dsn. The password and the redacted form are getters over private state, so JSON, util.inspect
 * and object spread never see the password; the redacted URL is formatted once, when first asked for.
 */
class SealedDsn implements Dsn {
  readonly scheme: DsnScheme;
  readonly driver: DriverName;
  readonly backend: Backend;
  declare readonly hosts?: readonly DsnHost[];
  declare readonly user?: string;
  declare readonly database?: string;
  declare readonly query?: Readonly<Record<string, string>>;
  declare readonly path?: string;
  readonly #password: string | undefined;
  #redacted: string | undefined;

  constructor(parts: DsnParts, password: string | undefined) {
    this.scheme = parts.scheme;
    this.driver = parts.driver;
    this.backend = parts.backend;
    const self = this as { -readonly [K in keyof DsnParts]?: DsnParts[K] };
    if (parts.hosts !== undefined)
      self.hosts = Object.freeze(parts.hosts.map((host) => Object.freeze({ ...host })));
    if (parts.user !== undefined) self.user = parts.user;
    if (parts.database !== undefined) self.database = parts.database;
    if (parts.query !== undefined) self.query = Object.freeze({ ...parts.query });
    if (parts.path !== undefined) self.path = parts.path;
    this.#password = password;
    Object.freeze(this);
  }

  /** Never print it. */
  get password(): string | undefined {
    return this.#password;
  }

  /** What JSON.stringify and util.inspect show: the parts, with query values masked as in {@link redacted}. */
  toJSON(): Record<string, unknown> {
    const { query, ...parts } = { ...this };
    if (query === undefined) return parts;
    const masked: Record<string, string> = {};
    for (const [key, value] of Object.entries(query))
      masked[printableQueryKey(key)] = printableQueryValue(key, value);
    return { ...parts, query: masked };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): Record<string, unknown> {
    return this.toJSON();
  }

  /** The URL formatted from its parts with the password and every query value not known safe as `***`. */
  get redacted(): string {
    this.#redacted ??= formatDsnParts(this, this.#password === undefined ? undefined : '***', true);
    return this.#redacted;
  }
}

/** Freezes the parts into a Dsn whose password never prints. */
export function sealDsn(parts: DsnParts, password?: string): Dsn {
  return new SealedDsn(parts, password);
}
