import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import type { AttemptMessage, ErrorMessage, OperationMessage } from '../core/diagnostics.js';
import { errorAttributes } from './error-attributes.js';

// The boundaries OpenTelemetry recommends for db.client.operation.duration, in seconds.
const durationBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10];

/** dbop.operations, dbop.attempts, dbop.operation.duration and dbop.errors, fed by the channels. */
export class DbopMetrics {
  readonly #attributes: Attributes;
  readonly #operations: Counter;
  readonly #attempts: Counter;
  readonly #duration: Histogram;
  readonly #errors: Counter;

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
  }

  operation(message: OperationMessage): void {
    if (message.phase !== 'end') return;
    const attributes = {
      ...this.#attributes,
      'db.operation.name': message.name,
      'dbop.outcome': message.outcome,
    };
    this.#operations.add(1, attributes);
    this.#duration.record(message.elapsedMs / 1000, attributes);
  }

  attempt(message: AttemptMessage): void {
    if (message.phase !== 'end') return;
    this.#attempts.add(1, {
      ...this.#attributes,
      'db.operation.name': message.name,
      'dbop.outcome': message.ok ? 'success' : 'error',
    });
  }

  error(message: ErrorMessage): void {
    const failure = errorAttributes(message.error, message.classification);
    delete failure['dbop.retry.scope'];
    this.#errors.add(1, {
      ...this.#attributes,
      ...failure,
      'db.operation.name': message.name,
      'dbop.retried': message.retryable,
    });
  }
}
