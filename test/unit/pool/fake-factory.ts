import type { Clock } from '../../../src/core/clock.js';
import type { ConnectionStatus, PoolFactory } from '../../../src/pool/pool-factory.js';

/** A fake connection: what ran on it and whether the fake server still knows it. */
export interface FakeConnection {
  readonly id: number;
  readonly session: string[];
  inTransaction: boolean;
  alive: boolean;
  listeners: ((error: unknown) => void)[];
}

/** A connection-lost error as a driver throws it (scope 'connection' in dbop's classification). */
export function connectionLost(): Error {
  return Object.assign(new Error('connection lost'), { code: 'ECONNRESET' });
}

/** A pure-logic factory: counts every create, destroy, ping and reset. */
export class FakeFactory implements PoolFactory<FakeConnection> {
  created = 0;
  destroyed = 0;
  pings = 0;
  resets = 0;
  failCreates = 0;
  /** Creates that never finish until their signal aborts (a connect that hangs). */
  hangCreates = false;
  /** What status() answers: the transaction state, or 'unknown' like mysql2. */
  knowsStatus = true;
  resetFails = false;
  readonly destroyedIds: number[] = [];
  readonly createError: Error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
    code: 'ECONNREFUSED',
  });

  async create(signal: AbortSignal): Promise<FakeConnection> {
    signal.throwIfAborted();
    if (this.failCreates === 0 && this.hangCreates)
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    if (this.failCreates > 0) {
      this.failCreates -= 1;
      throw this.createError;
    }
    this.created += 1;
    return { id: this.created, session: [], inTransaction: false, alive: true, listeners: [] };
  }

  destroy(connection: FakeConnection): void {
    this.destroyed += 1;
    this.destroyedIds.push(connection.id);
    connection.alive = false;
  }

  async ping(connection: FakeConnection): Promise<void> {
    this.pings += 1;
    if (!connection.alive) throw connectionLost();
  }

  status(connection: FakeConnection): ConnectionStatus {
    if (!connection.alive) return 'broken';
    if (!this.knowsStatus) return 'unknown';
    return connection.inTransaction ? 'transaction' : 'idle';
  }

  async reset(connection: FakeConnection): Promise<void> {
    this.resets += 1;
    if (this.resetFails) throw new Error('reset failed');
    connection.inTransaction = false;
    connection.session.push('rollback');
  }

  async execute(connection: FakeConnection, sql: string): Promise<string> {
    if (!connection.alive) throw connectionLost();
    if (sql === 'error') throw Object.assign(new Error('syntax error'), { code: '42601' });
    connection.session.push(sql);
    if (sql === 'BEGIN') connection.inTransaction = true;
    if (sql === 'COMMIT' || sql === 'ROLLBACK') connection.inTransaction = false;
    return sql;
  }

  onError(connection: FakeConnection, listener: (error: unknown) => void): void {
    connection.listeners.push(listener);
  }
}

/** The server ends a connection: it emits 'error' and is gone. */
export function kill(connection: FakeConnection): void {
  connection.alive = false;
  for (const listener of connection.listeners) listener(connectionLost());
}

/** A clock over vitest's fake timers. */
export const fakeClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
