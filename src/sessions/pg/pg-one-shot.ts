import type { PgQueryable } from './pg-types.js';

/** The subset of a node-postgres Client class {@link pgOneShot} needs. */
export type PgClientClass = new (
  config: Readonly<Record<string, unknown>>,
) => PgQueryable & {
  connect(): Promise<unknown>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: unknown) => void): unknown;
};

/**
 * Runs each query on a new Client outside any pool, closed once the query is done: side work (a cancel, a
 * commit check) that must not queue behind the busy pooled connections it is about.
 */
export function pgOneShot(Client: PgClientClass, config: Readonly<Record<string, unknown>>): PgQueryable {
  return {
    async query(text, values) {
      const client = new Client(config);
      // A connection dropped mid-way rejects the pending call; the listener keeps it from crashing the process.
      client.on('error', () => {});
      try {
        await client.connect();
        return await client.query(text, values);
      } finally {
        client.end().catch(() => undefined);
      }
    },
  };
}
