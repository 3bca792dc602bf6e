import {
  type Attributes,
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { AttemptMessage, ErrorMessage, OperationMessage, RetryMessage } from '../core/diagnostics.js';
import { errorAttributes, statusText } from './error-attributes.js';
import { targetAttributes } from './target-attributes.js';

interface Open {
  readonly span: Span;
  attempt: Span | undefined;
  attemptNumber: number;
  /** Whether 'dbop:error' already described the current attempt's failure. */
  attemptDescribed: boolean;
  /** The attributes of the last failed attempt, so the operation span can say how the call ended. */
  lastFailure: Attributes | undefined;
  /** Time spent waiting for the concurrency limiter, all attempts together. */
  limiterWaitMs: number;
  /** db.system.name, db.namespace, server.address and server.port of what the operation runs against. */
  readonly target: Attributes;
}

/** One span per operation and a child per attempt, keyed by the engine's operationId. */
export class DbopSpans {
  readonly #tracer: Tracer;
  readonly #attributes: Attributes;
  readonly #open = new Map<number, Open>();

  constructor(tracer: Tracer, attributes: Attributes) {
    this.#tracer = tracer;
    this.#attributes = attributes;
  }

  /** Spans not ended yet (operations still running). */
  get openCount(): number {
    return this.#open.size;
  }

  operation(message: OperationMessage): void {
    if (message.phase === 'start') {
      // Published synchronously by the caller: the active context is the caller's, so its span is the parent.
      const target = targetAttributes(message.target);
      const span = this.#tracer.startSpan(message.name, {
        kind: SpanKind.CLIENT,
        attributes: {
          // The user's own attributes win over what the URL says.
          ...target,
          ...this.#attributes,
          'db.operation.name': message.name,
          'dbop.read_only': message.readOnly,
          'dbop.max_retries': message.maxRetries,
        },
      });
      this.#open.set(message.operationId, {
        span,
        attempt: undefined,
        attemptNumber: 0,
        attemptDescribed: false,
        lastFailure: undefined,
        limiterWaitMs: 0,
        target,
      });
      return;
    }
    const open = this.#open.get(message.operationId);
    if (open === undefined) return;
    this.#open.delete(message.operationId);
    open.attempt?.end();
    const { span } = open;
    span.setAttribute('dbop.attempts', message.attempts);
    span.setAttribute('dbop.outcome', message.outcome);
    if (message.outcome !== 'success') {
      // The call's own error (an AmbiguousCommitError, a timeout) first, then what the last attempt showed.
      const failure = { ...errorAttributes(message.error, undefined), ...open.lastFailure };
      if (errorAttributes(message.error, undefined)['dbop.ambiguous'] === true)
        failure['dbop.ambiguous'] = true;
      delete failure['dbop.retried'];
      span.setAttributes(failure);
      span.setStatus({ code: SpanStatusCode.ERROR, message: statusText(failure) });
    }
    span.end();
  }

  attempt(message: AttemptMessage): void {
    const open = this.#open.get(message.operationId);
    if (open === undefined) return;
    if (message.phase === 'start') {
      open.attempt?.end();
      open.attemptNumber = message.attempt;
      if (message.limiterWaitMs !== undefined) {
        open.limiterWaitMs += message.limiterWaitMs;
        open.span.setAttribute('dbop.limiter.wait_ms', open.limiterWaitMs);
      }
      open.attemptDescribed = false;
      open.attempt = this.#tracer.startSpan(
        `${message.name} attempt`,
        { kind: SpanKind.INTERNAL, attributes: this.#attemptAttributes(message, open.target) },
        trace.setSpan(context.active(), open.span),
      );
      return;
    }
    const span = open.attempt;
    if (span === undefined) return;
    open.attempt = undefined;
    if (!message.ok && !open.attemptDescribed) {
      const failure = errorAttributes(message.error, undefined);
      open.lastFailure = failure;
      span.setAttributes(failure);
      span.setStatus({ code: SpanStatusCode.ERROR, message: statusText(failure) });
    }
    span.end();
  }

  #attemptAttributes(message: AttemptMessage & { phase: 'start' }, target: Attributes): Attributes {
    const attributes: Attributes = { ...target, ...this.#attributes, 'dbop.attempt': message.attempt };
    if (message.limiterWaitMs !== undefined) attributes['dbop.limiter.wait_ms'] = message.limiterWaitMs;
    return attributes;
  }

  /** Published just before the attempt ends: the classification and whether it will be retried. */
  error(message: ErrorMessage): void {
    const open = this.#open.get(message.operationId);
    if (open === undefined) return;
    const failure = {
      ...errorAttributes(message.error, message.classification),
      'dbop.retried': message.retryable,
    };
    open.lastFailure = failure;
    const span = open.attempt;
    if (span === undefined || message.attempt !== open.attemptNumber) {
      open.span.addEvent('dbop.error', { ...failure, 'dbop.attempt': message.attempt });
      return;
    }
    open.attemptDescribed = true;
    span.setAttributes(failure);
    span.setStatus({ code: SpanStatusCode.ERROR, message: statusText(failure) });
  }

  retry(message: RetryMessage): void {
    const open = this.#open.get(message.operationId);
    if (open === undefined) return;
    const attributes: Attributes = {
      'dbop.attempt': message.attempt,
      'dbop.retry.delay_ms': message.delayMs,
    };
    if (message.classification !== undefined) {
      attributes['dbop.error.kind'] = message.classification.kind;
      attributes['dbop.retry.scope'] = message.classification.scope;
    }
    open.span.addEvent('dbop.retry', attributes);
  }

  /** Ends what is still open (on stop), marked as cut short. */
  endAll(): void {
    for (const { span, attempt } of this.#open.values()) {
      attempt?.end();
      span.setAttribute('dbop.instrumentation_stopped', true);
      span.end();
    }
    this.#open.clear();
  }
}
