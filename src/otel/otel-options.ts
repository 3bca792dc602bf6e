import type { Attributes, MeterProvider, TracerProvider } from '@opentelemetry/api';

/** Options of {@link instrumentDbop}; every field is optional. */
export interface InstrumentDbopOptions {
  /** Where spans go. Default: the global provider (`trace.getTracerProvider()`). */
  readonly tracerProvider?: TracerProvider;
  /** Where metrics go. Default: the global provider (`metrics.getMeterProvider()`). */
  readonly meterProvider?: MeterProvider;
  /** Emit spans. Default: env DBOP_OTEL_ENABLED, else true. */
  readonly traces?: boolean;
  /** Emit metrics. Default: env DBOP_OTEL_METRICS_ENABLED, else DBOP_OTEL_ENABLED, else true. */
  readonly metrics?: boolean;
  /** Recorded as `service.version` on spans. Default: env DBOP_SERVICE_VERSION. */
  readonly serviceVersion?: string;
  /**
   * Attributes added to every span and metric point, for what dbop's channels do not know: `db.system.name`,
   * `db.namespace`, `server.address`, `server.port`. Keys with 'password', 'secret' or 'token' are rejected.
   */
  readonly attributes?: Attributes;
  /** Environment to read the switches from. Default: process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** {@link InstrumentDbopOptions} after defaults and validation. */
export interface ResolvedInstrumentOptions {
  readonly tracerProvider: TracerProvider | undefined;
  readonly meterProvider: MeterProvider | undefined;
  readonly traces: boolean;
  readonly metrics: boolean;
  readonly attributes: Attributes;
}

const known = new Set([
  'tracerProvider',
  'meterProvider',
  'traces',
  'metrics',
  'serviceVersion',
  'attributes',
  'env',
]);

/** Validates `options` once (precise TypeErrors), reads the env switches, and freezes the result. */
export function resolveInstrumentOptions(options: InstrumentDbopOptions = {}): ResolvedInstrumentOptions {
  if (typeof options !== 'object' || options === null) fail('options', 'an object', options);
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new TypeError(`instrumentDbop(): unknown option \`${key}\``);
  }
  const env = options.env ?? process.env;
  const enabled = options.traces ?? switchOf(env, 'DBOP_OTEL_ENABLED') ?? true;
  const metrics =
    options.metrics ??
    switchOf(env, 'DBOP_OTEL_METRICS_ENABLED') ??
    switchOf(env, 'DBOP_OTEL_ENABLED') ??
    true;
  if (typeof enabled !== 'boolean') fail('traces', 'a boolean', enabled);
  if (typeof metrics !== 'boolean') fail('metrics', 'a boolean', metrics);
  const attributes: Attributes = { ...(options.attributes ?? {}) };
  for (const key of Object.keys(attributes)) {
    if (/pass|secret|token|credential/i.test(key))
      fail(`attributes.${key}`, 'a key that names no secret', key);
  }
  const version = options.serviceVersion ?? env.DBOP_SERVICE_VERSION;
  if (version !== undefined) {
    if (typeof version !== 'string' || version === '') fail('serviceVersion', 'a non-empty string', version);
    attributes['service.version'] = version;
  }
  return Object.freeze({
    tracerProvider: options.tracerProvider,
    meterProvider: options.meterProvider,
    traces: enabled,
    metrics,
    attributes: Object.freeze(attributes),
  });
}

function switchOf(env: Readonly<Record<string, string | undefined>>, name: string): boolean | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(value)) return true;
  if (['0', 'false', 'no', 'off'].includes(value)) return false;
  throw new TypeError(
    `Expected env ${name} to be one of 1, true, yes, on, 0, false, no, off; got ${JSON.stringify(raw.slice(0, 20))}`,
  );
}

function fail(name: string, expected: string, got: unknown): never {
  const shown =
    typeof got === 'string' ? JSON.stringify(got.slice(0, 40)) : got === null ? 'null' : typeof got;
  throw new TypeError(`instrumentDbop(): expected \`${name}\` to be ${expected}, got ${shown}`);
}
