import type { Attributes, BatchObservableCallback, Counter, Histogram, Meter } from '@opentelemetry/api';
import { openPoolStats } from '../pool/pool.js';
import type {
  PoolAcquireMessage,
  PoolCreateMessage,
  PoolReleaseMessage,
  PoolTimeoutMessage,
} from '../pool/pool-channels.js';

// OpenTelemetry's advice for db.client.connection.* durations, in seconds.
const timeBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];
const poolName = 'db.client.connection.pool.name';

/**
 * The OpenTelemetry database semantic conventions' connection-pool metrics, fed by the dbop:pool:*
 * channels: db.client.connection.count {state idle|used}, .pending_requests, .wait_time, .timeouts,
 * .create_time and .use_time, each with the pool's name.
 */
export class PoolMetrics {
  readonly #attributes: Attributes;
  readonly #waitTime: Histogram;
  readonly #createTime: Histogram;
  readonly #useTime: Histogram;
  readonly #timeouts: Counter;
  readonly #byPool = new Map<string, Attributes>();
  readonly #unobserve: () => void;

  constructor(meter: Meter, attributes: Attributes) {
    this.#attributes = attributes;
    const seconds = (name: string, description: string): Histogram =>
      meter.createHistogram(name, {
        description,
        unit: 's',
        advice: { explicitBucketBoundaries: timeBuckets },
      });
    this.#waitTime = seconds(
      'db.client.connection.wait_time',
      'Time it took to obtain an open connection from the pool',
    );
    this.#createTime = seconds('db.client.connection.create_time', 'Time it took to create a new connection');
    this.#useTime = seconds(
      'db.client.connection.use_time',
      'Time between borrowing a connection and returning it',
    );
    this.#timeouts = meter.createCounter('db.client.connection.timeouts', {
      description: 'Connection acquires that timed out',
      unit: '{timeout}',
    });
    const count = meter.createObservableUpDownCounter('db.client.connection.count', {
      description: 'Connections in the state described by db.client.connection.state',
      unit: '{connection}',
    });
    const pending = meter.createObservableUpDownCounter('db.client.connection.pending_requests', {
      description: 'Pending requests for an open connection',
      unit: '{request}',
    });
    const observe: BatchObservableCallback = (result) => {
      // Counts read from the open pools themselves when collected, not from the last message: a caller
      // starting to wait publishes nothing, yet is pending.
      for (const stats of openPoolStats()) {
        const at = this.#at(stats.name);
        result.observe(count, stats.idle, { ...at, 'db.client.connection.state': 'idle' });
        result.observe(count, stats.inUse, { ...at, 'db.client.connection.state': 'used' });
        result.observe(pending, stats.pending, at);
      }
    };
    meter.addBatchObservableCallback(observe, [count, pending]);
    this.#unobserve = () => meter.removeBatchObservableCallback(observe, [count, pending]);
  }

  /** Stops observing the pools' counts. */
  stop(): void {
    this.#unobserve();
  }

  acquire(message: PoolAcquireMessage): void {
    this.#waitTime.record(message.waitMs / 1000, this.#at(message.pool));
  }

  release(message: PoolReleaseMessage): void {
    this.#useTime.record(message.heldMs / 1000, this.#at(message.pool));
  }

  create(message: PoolCreateMessage): void {
    if (message.ok) this.#createTime.record(message.durationMs / 1000, this.#at(message.pool));
  }

  timeout(message: PoolTimeoutMessage): void {
    this.#timeouts.add(1, this.#at(message.pool));
  }

  #at(name: string): Attributes {
    let attributes = this.#byPool.get(name);
    if (attributes === undefined) {
      attributes = Object.freeze({ ...this.#attributes, [poolName]: name });
      if (this.#byPool.size >= 1000) this.#byPool.clear();
      this.#byPool.set(name, attributes);
    }
    return attributes;
  }
}
