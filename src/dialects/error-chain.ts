import { causeKeys } from '../core/error-cause.js';

/** Deeper chains than this are cut: real wrappers nest a handful of levels. */
const maxDepth = 8;
/** Upper bound on the errors looked at, so a huge AggregateError stays cheap. */
const maxNodes = 32;

/**
 * The error and everything it wraps (cause, original, parent, driverError, orig, Prisma's meta, and an
 * AggregateError's errors), outermost first, each object once (cycle guard), depth-limited.
 */
export function errorChain(error: object): object[] {
  const nodes: object[] = [error];
  if (!wrapsAnything(error as Record<string, unknown>)) return nodes; // most driver errors: no Set, no walk
  const seen = new Set<object>(nodes);
  let level: object[] = nodes.slice();
  for (let depth = 1; depth <= maxDepth && level.length > 0; depth++) {
    const next: object[] = [];
    for (const node of level) {
      const record = node as Record<string, unknown>;
      for (const key of causeKeys) add(record[key], seen, next);
      const errors = record.errors;
      if (Array.isArray(errors)) for (const inner of errors) add(inner, seen, next);
    }
    for (const node of next) {
      if (nodes.length >= maxNodes) return nodes;
      nodes.push(node);
    }
    level = next;
  }
  return nodes;
}

function wrapsAnything(record: Record<string, unknown>): boolean {
  for (const key of causeKeys) if (typeof record[key] === 'object' && record[key] !== null) return true;
  return Array.isArray(record.errors);
}

function add(value: unknown, seen: Set<object>, into: object[]): void {
  if (typeof value === 'object' && value !== null && !seen.has(value)) {
    seen.add(value);
    into.push(value);
  }
}
