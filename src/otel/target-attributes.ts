import type { Attributes } from '@opentelemetry/api';
import type { OperationTarget } from '../core/diagnostics.js';

const cache = new WeakMap<OperationTarget, Attributes>();
const none: Attributes = Object.freeze({});

/**
 * OpenTelemetry's database attributes for an operation's target: db.system.name, db.namespace,
 * server.address and server.port. One frozen object per target (createDatabase makes one per Database).
 */
export function targetAttributes(target: OperationTarget | undefined): Attributes {
  if (target === undefined) return none;
  let attributes = cache.get(target);
  if (attributes === undefined) {
    const built: Attributes = { 'db.system.name': target.system };
    if (target.namespace !== undefined) built['db.namespace'] = target.namespace;
    if (target.address !== undefined) built['server.address'] = target.address;
    if (target.port !== undefined) built['server.port'] = target.port;
    attributes = Object.freeze(built);
    cache.set(target, attributes);
  }
  return attributes;
}
