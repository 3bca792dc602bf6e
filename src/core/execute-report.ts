import type { Classification } from './classification.js';
import type { Logger } from './execute-options.js';

/** Calls a user hook; a throwing hook is logged, never allowed to change the call's outcome. */
export function callHook<E>(hook: ((event: E) => void) | undefined, event: E, logger: Logger | undefined, name: string): void {
  if (hook === undefined) return;
  try {
    hook(event);
  } catch (error) {
    logger?.error?.({ hookError: messageOf(error) }, `${name}: a hook threw`);
  }
}

/** The log fields of a failed attempt (rule R3); messages and codes only, never the op's arguments. */
export function failureFields(
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

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = error.code;
  return typeof code === 'string' || typeof code === 'number' ? String(code) : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
