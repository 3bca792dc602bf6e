import type { Attributes, BatchObservableCallback, Counter, Histogram, Meter } from '@opentelemetry/api';
import type { LimiterMessage } from '../core/concurrency-limiter.js';
import type { AttemptMessage, ErrorMessage, OperationMessage, OperationTarget } from '../core/diagnostics.js';
import { errorAttributes } from './error-attributes.js';
import { targetAttributes } from './target-attributes.js';

// The boundaries OpenTelemetry recommends for db.client.operation.duration, in seconds.
const durationBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

/** dbop.operations, .attempts, .operation.duration, .errors and the limiter's gauges, fed by the channels. */
export class DbopMetrics {
  readonly #attributes: Attributes;
  readonly #operations: Counter;
  readonly #attempts: Counter;
  readonly #duration: Histogram;
  readonly #errors: Counter;
  readonly #limiterWait: Histogram;
  // The last state each limiter (by name) published; read when the SDK collects the gauges.
  readonly #limiters = new Map<string, LimiterMessage>();
  readonly #unobserve: () => void;

  constructor(meter: Meter, attributes: Attributes) {
    this.#attributes = attributes;
    this.#operations = meter.createCounter('dbop.operations', {
      description: 'Operations that ended, by outcome (success, default, error)',
      unit: '{operation}',
    });
    this.#attempts = meter.createCounter('dbop.attempts', {
      description: 'Attempts that ended, retries included',
      unit: '{attempt}',
    });
    this.#duration = meter.createHistogram('dbop.operation.duration', {
      description: 'Duration of whole operations, retries and backoff included',
      unit: 's',
      advice: { explicitBucketBoundaries: durationBuckets },
    });
    this.#errors = meter.createCounter('dbop.errors', {
      description: 'Failed attempts by error class, server code and dbop kind',
      unit: '{error}',
    });
    this.#limiterWait = meter.createHistogram('dbop.limiter.wait_duration', {
      description: 'Time attempts waited for admission by the concurrency limiter',
      unit: 's',
      advice: { explicitBucketBoundaries: durationBuckets },
    });
    const limit = meter.createObservableGauge('dbop.limiter.limit', {
      description: "The concurrency limiter's current limit",
      unit: '{unit}',
    });
    const inFlight = meter.createObservableGauge('dbop.limiter.in_flight', {
      description: 'Units the concurrency limiter admitted that have not ended',
      unit: '{unit}',
    });
    const queued = meter.createObservableGauge('dbop.limiter.queued', {
      description: 'Units waiting for admission by the concurrency limiter',
      unit: '{unit}',
    });
    const observe: BatchObservableCallback = (result) => {
      for (const [name, stats] of this.#limiters) {
        const at = { ...this.#attributes, 'dbop.limiter.name': name };
        result.observe(limit, stats.limit, at);
        result.observe(inFlight, stats.inFlight, at);
        result.observe(queued, stats.queued, at);
      }
    };
    const observables = [limit, inFlight, queued];
    meter.addBatchObservableCallback(observe, observables);
    this.#unobserve = () => meter.removeBatchObservableCallback(observe, observables);
  }

  /** Stops observing the limiters' gauges. */
  stop(): void {
    this.#unobserve();
    this.#limiters.clear();
  }

  limiter(message: LimiterMessage): void {
    this.#limiters.set(message.name, message);
  }

  operation(message: OperationMessage): void {
    if (message.phase !== 'end') return;
    const attributes = this.#byOutcome(message.name, message.outcome, message.target);
    this.#operations.add(1, attributes);
    this.#duration.record(message.elapsedMs / 1000, attributes);
  }

  attempt(message: AttemptMessage): void {
    if (message.phase === 'start') {
      if (message.limiterWaitMs !== undefined) {
        this.#limiterWait.record(message.limiterWaitMs / 1000, {
          ...this.#attributes,
          'db.operation.name': message.name,
        });
      }
      return;
    }
    this.#attempts.add(1, this.#byOutcome(message.name, message.ok ? 'success' : 'error'));
  }

  // One frozen attribute set per operation name, outcome and target, not a new object per call.
  readonly #outcomes = new Map<string, Attributes>();
  #byOutcome(name: string, outcome: string, target?: OperationTarget): Attributes {
    const where =
      target === undefined
        ? ''
        : `${target.system}\u0000${target.namespace}\u0000${target.address}\u0000${target.port}`;
    const key = `${outcome}\u0000${name}\u0000${where}`;
    let attributes = this.#outcomes.get(key);
    if (attributes === undefined) {
      attributes = Object.freeze({
        ...targetAttributes(target),
        ...this.#attributes,
        'db.operation.name': name,
        'dbop.outcome': outcome,
      });
      // Names are meant to be few; a caller that makes one per call must not grow this without bound.
      if (this.#outcomes.size >= 1000) this.#outcomes.clear();
      this.#outcomes.set(key, attributes);
    }
    return attributes;
  }

  error(message: ErrorMessage): void {
    const failure = errorAttributes(message.error, message.classification);
    delete failure['dbop.retry.scope'];
    this.#errors.add(1, {
      ...targetAttributes(message.target),
      ...this.#attributes,
      ...failure,
      'db.operation.name': message.name,
      'dbop.retried': message.retryable,
    });
  }
}
