import type { Classification } from './classification.js';
import { channels, type OperationTarget } from './diagnostics.js';
import { innermostError } from './error-cause.js';
import type { GiveUpReason, Logger } from './execute-options.js';
import type { ResolvedExecuteOptions } from './resolve-execute-options.js';

/** Who is reporting: the call's options, name and diagnostics id. */
export interface Reporter {
  readonly options: ResolvedExecuteOptions;
  readonly name: string;
  readonly operationId: number;
}

/** Logs '<name> done' (R3), calls onSuccess and ends the operation on 'dbop:operation'. */
export function reportSuccess(r: Reporter, attempts: number, elapsedMs: number): void {
  const { options: o, name } = r;
  o.logger?.info?.({ attempts, elapsedMs }, `${name} done`);
  callHook(o.onSuccess, { name, attempts, elapsedMs }, o.logger, name);
  if (channels.operation.hasSubscribers) {
    const { operationId } = r;
    const outcome = 'success';
    channels.operation.publish({
      phase: 'end',
      operationId,
      name,
      readOnly: o.readOnly,
      outcome,
      attempts,
      elapsedMs,
      ...withTarget(o),
    });
  }
}

/** Logs '<name> failed' at warn (R3), calls onRetry and publishes on 'dbop:retry'. */
export function reportRetry(
  r: Reporter,
  attempt: number,
  error: unknown,
  delayMs: number,
  classification: Classification | undefined,
): void {
  const { options: o, name } = r;
  o.logger?.warn?.({ ...failureFields(error, attempt, true, classification), delayMs }, `${name} failed`);
  callHook(
    o.onRetry,
    { name, attempt, error, delayMs, ...withClassification(classification) },
    o.logger,
    name,
  );
  if (channels.retry.hasSubscribers) {
    channels.retry.publish({ operationId: r.operationId, name, attempt, delayMs, error, classification });
  }
}

/** What ended a call in failure. */
export interface GiveUp {
  readonly attempt: number;
  /** The attempt's own error. */
  readonly error: unknown;
  /** What the call rejects with (or would, with raises: false). */
  readonly thrown: unknown;
  readonly reason: GiveUpReason;
  readonly retryable: boolean;
  readonly classification: Classification | undefined;
  readonly rollbackFailed: boolean;
  readonly rollbackError: unknown;
  readonly usedDefault: boolean;
  readonly elapsedMs: number;
}

/** Logs '<name> failed' at error (warn for an abort), calls onGiveUp and ends the operation. */
export function reportGiveUp(r: Reporter, g: GiveUp): void {
  const { options: o, name } = r;
  const fields = { ...failureFields(g.error, g.attempt, g.retryable, g.classification), reason: g.reason };
  if (g.rollbackFailed) Object.assign(fields, { rollbackError: messageOf(g.rollbackError) });
  o.logger?.[g.reason === 'aborted' ? 'warn' : 'error']?.(fields, `${name} failed`);
  const event = {
    name,
    attempt: g.attempt,
    error: g.thrown,
    reason: g.reason,
    ...withClassification(g.classification),
    ...(g.rollbackFailed ? { rollbackError: g.rollbackError } : {}),
  };
  callHook(o.onGiveUp, event, o.logger, name);
  if (channels.operation.hasSubscribers) {
    channels.operation.publish({
      phase: 'end',
      operationId: r.operationId,
      name,
      readOnly: o.readOnly,
      outcome: g.usedDefault ? 'default' : 'error',
      attempts: g.attempt,
      elapsedMs: g.elapsedMs,
      error: g.thrown,
      ...withTarget(o),
    });
  }
}

/** Calls a user hook; a throwing hook is logged, never allowed to change the call's outcome. */
function callHook<E>(
  hook: ((event: E) => void) | undefined,
  event: E,
  logger: Logger | undefined,
  name: string,
): void {
  if (hook === undefined) return;
  try {
    hook(event);
  } catch (error) {
    logger?.error?.({ hookError: messageOf(error) }, `${name}: a hook threw`);
  }
}

/** The log fields of a failed attempt (rule R3): kind, code and message, never the op's arguments. */
function failureFields(
  error: unknown,
  attempt: number,
  retryable: boolean,
  classification: Classification | undefined,
): Record<string, unknown> {
  return {
    dialect: classification?.backend,
    attempt,
    retryable,
    kind: classification?.kind,
    code: classification?.code ?? codeOf(error),
    error: messageOf(error),
  };
}

function withClassification(classification: Classification | undefined): { classification?: Classification } {
  return classification === undefined ? {} : { classification };
}

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = error.code;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : undefined;
}

/**
 * The error for a log line: the innermost error it wraps (the driver's, not an ORM wrapper's whose first
 * line is the SQL, sometimes with its values), its name and the first line of its message, at most 300
 * characters. Drivers append the SQL and its parameter values on later lines (mariadb's default logParam),
 * and parameters may be secrets.
 */
export function messageOf(error: unknown): string {
  const inner = innermostError(error);
  const text = describe(inner);
  const firstLine = text.split('\n', 1)[0]!;
  return firstLine.length > 300 ? `${firstLine.slice(0, 299)}…` : firstLine;
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  if (typeof error === 'object' && error !== null) {
    const { name, message } = error as { name?: unknown; message?: unknown };
    if (typeof message === 'string') return typeof name === 'string' ? `${name}: ${message}` : message;
  }
  return String(error);
}

/** The call's target for an operation message, when it has one (spread: absent, not undefined). */
function withTarget(o: ResolvedExecuteOptions): { readonly target?: OperationTarget } {
  return o.target === undefined ? {} : { target: o.target };
}
