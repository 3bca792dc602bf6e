/** Where a pooled connection is in its life. */
export type EntryState = 'idle' | 'busy' | 'checking' | 'gone';

/** The acquirer's stack, captured cheaply (V8 formats it only when `.stack` is read). */
export interface CapturedStack {
  readonly stack?: string;
}

/** Captures the caller's stack above `above`, unformatted. */
export function captureStack(above: (...args: never[]) => unknown): CapturedStack {
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, above);
  return holder;
}

/** One connection of a pool and what the pool knows about it. */
export class PoolEntry<C> {
  readonly connection: C;
  readonly createdAt: number;
  /** When it retires (maxLifetimeMs minus jitter); Infinity when it never does. */
  readonly expiresAt: number;
  state: EntryState = 'checking';
  lastUsedAt: number;
  uses = 0;
  /** How many times it was lent: a lease from an earlier checkout no longer matches. */
  lends = 0;
  acquiredAt = 0;
  /** How many callers hold it: 1 when borrowed alone, more when shared. */
  shares = 0;
  holder: string | undefined = undefined;
  stack: CapturedStack | undefined = undefined;
  leakReported = false;
  /** Set by the connection's error listener: the server or the socket ended it. */
  broken: unknown = undefined;

  constructor(connection: C, now: number, expiresAt: number) {
    this.connection = connection;
    this.createdAt = now;
    this.lastUsedAt = now;
    this.expiresAt = expiresAt;
  }
}
