import { expectIntegerAtLeast, expectOptions, maxTimeoutMs, orDefault } from '../core/validate.js';
import { classify } from '../dialects/classify.js';
import type { Dsn, DsnHost } from './dsn.js';
import { type HostFailure, NoHostAvailableError } from './no-host-available-error.js';
import { parseDsn } from './parse-dsn.js';
import { redactSecrets } from './redact-secrets.js';
import {
  describeRole,
  type HostRole,
  isTargetSessionAttrs,
  roleMatches,
  type TargetSessionAttrs,
  targetSessionAttrsValues,
} from './target-session-attrs.js';

/**
 * How a {@link connectionFactory} reaches one host with one driver: open a connection, ask the server its
 * role, and throw a connection away (wrong role, failed probe, opened too late).
 */
export interface HostDriver<Conn> {
  open(host: DsnHost): Promise<Conn>;
  role(connection: Conn, host: DsnHost): Promise<HostRole>;
  discard(connection: Conn): Promise<void>;
}

/** Options of {@link connectionFactory}: `dsn` or `hosts` (or both: `hosts` then replaces the URL's). */
export interface ConnectionFactoryOptions<Conn> {
  readonly driver: HostDriver<Conn>;
  /** A database URL (one or several hosts); its `target_session_attrs` and `load_balance_hosts` apply. */
  readonly dsn?: string | Dsn;
  readonly hosts?: readonly DsnHost[];
  /** Default: the URL's `target_session_attrs`, else 'any'. */
  readonly targetSessionAttrs?: TargetSessionAttrs;
  /** Try the hosts in a random order (libpq's load_balance_hosts=random). Default: the URL's, else false. */
  readonly loadBalanceHosts?: boolean;
  /** How long one host may take to connect and answer the role probe, ms. Default 10000. */
  readonly connectTimeoutMs?: number;
  /** A host that could not be reached is tried after the others for this long, ms. Default 10000. */
  readonly hostRecheckMs?: number;
  /** For tests: the random source of the shuffle. */
  readonly random?: () => number;
}

/** A connection with the host it reached and the role that host reported. */
export interface HostConnection<Conn> {
  readonly connection: Conn;
  readonly host: DsnHost;
  readonly role: HostRole;
}

/** Connections to whichever host of a list has the role asked for. */
export interface ConnectionFactory<Conn> {
  readonly hosts: readonly DsnHost[];
  readonly targetSessionAttrs: TargetSessionAttrs;
  /**
   * Tries the hosts (the last one that matched first, unless load balancing), checks each one's role, and
   * returns the first match; prefer-standby falls back to the first usable non-standby. Throws
   * NoHostAvailableError listing every host tried and why it was passed over.
   */
  connect(): Promise<HostConnection<Conn>>;
  /** Forget that `host` matched (it failed or changed role): the next connect() starts from the list. */
  forget(host: DsnHost): void;
}

const keys: ReadonlySet<string> = new Set([
  'driver',
  'dsn',
  'hosts',
  'targetSessionAttrs',
  'loadBalanceHosts',
  'connectTimeoutMs',
  'hostRecheckMs',
  'random',
]);

/**
 * A connection factory over several hosts, libpq's target_session_attrs semantics for every driver.
 * @example
 * const factory = connectionFactory({ dsn: 'postgres://app@db1,db2/shop', targetSessionAttrs: 'read-write', driver });
 * const { connection, host } = await factory.connect();
 */
export function connectionFactory<Conn>(options: ConnectionFactoryOptions<Conn>): ConnectionFactory<Conn> {
  const resolved = expectOptions(options, keys, 'connectionFactory()');
  const driver = resolved.driver;
  if (typeof driver !== 'object' || driver === null || typeof driver.open !== 'function') {
    throw new TypeError('Expected `driver` to be a HostDriver (open, role, discard)');
  }
  const dsn = typeof resolved.dsn === 'string' ? parseDsn(resolved.dsn) : resolved.dsn;
  const hosts = Object.freeze(distinctHosts([...(resolved.hosts ?? dsn?.hosts ?? [])].map(checkHost)));
  if (hosts.length === 0) throw new TypeError('Expected `hosts` or a network `dsn` with at least one host');
  const attrs = resolved.targetSessionAttrs ?? dsnAttrs(dsn) ?? 'any';
  if (!isTargetSessionAttrs(attrs)) {
    throw new TypeError(
      `Expected \`targetSessionAttrs\` to be one of ${targetSessionAttrsValues.join(', ')}, got ${String(attrs)}`,
    );
  }
  const shuffle = resolved.loadBalanceHosts ?? dsn?.query?.load_balance_hosts === 'random';
  if (typeof shuffle !== 'boolean') throw new TypeError('Expected `loadBalanceHosts` to be a boolean');
  const timeoutMs = expectIntegerAtLeast(
    'connectTimeoutMs',
    orDefault(resolved.connectTimeoutMs, 10_000),
    1,
    maxTimeoutMs,
  );
  const random = resolved.random ?? Math.random;
  const recheckMs = expectIntegerAtLeast(
    'hostRecheckMs',
    orDefault(resolved.hostRecheckMs, 10_000),
    0,
    maxTimeoutMs,
  );
  let preferred: DsnHost | undefined;

  // Hosts that could not be reached lately are tried last (pgjdbc's hostRecheckSeconds): a dead first host
  // does not cost a connect timeout on every connect while another one works.
  const unreachableSince = new Map<string, number>();
  const recentlyUnreachable = (host: DsnHost): boolean => {
    const since = unreachableSince.get(hostLabel(host));
    return since !== undefined && performance.now() - since < recheckMs;
  };
  const order = (): DsnHost[] => {
    let list: DsnHost[];
    if (shuffle) list = shuffled(hosts, random);
    else if (preferred === undefined) list = [...hosts];
    else list = [preferred, ...hosts.filter((h) => h !== preferred)];
    return [...list.filter((h) => !recentlyUnreachable(h)), ...list.filter(recentlyUnreachable)];
  };

  return Object.freeze({
    hosts,
    targetSessionAttrs: attrs,
    forget(host: DsnHost): void {
      if (preferred !== undefined && sameHost(preferred, host)) preferred = undefined;
    },
    async connect(): Promise<HostConnection<Conn>> {
      const failures: HostFailure[] = [];
      let refusedForGood = 0;
      let fallback: HostConnection<Conn> | undefined;
      for (const host of order()) {
        const reached = await reach(driver, host, timeoutMs).catch((error: unknown) => {
          failures.push({ host: hostLabel(host), reason: describeFailure(error) });
          if (refusesForGood(error)) refusedForGood += 1;
          unreachableSince.set(hostLabel(host), performance.now());
          return undefined;
        });
        if (reached === undefined) continue;
        unreachableSince.delete(hostLabel(host));
        if (roleMatches(attrs, reached.role)) {
          if (fallback !== undefined) await discardQuietly(driver, fallback.connection);
          preferred = host;
          return reached;
        }
        if (attrs === 'prefer-standby' && fallback === undefined && reached.role.unavailable === undefined) {
          fallback = reached;
          continue;
        }
        await discardQuietly(driver, reached.connection);
        failures.push({
          host: hostLabel(host),
          reason: `${describeRole(reached.role)}, not ${attrs}`,
          role: reached.role,
        });
      }
      if (fallback !== undefined) return fallback;
      // Every host answered, and each refused the login in a way no retry changes: say so once, at once.
      throw new NoHostAvailableError(attrs, failures, { final: refusedForGood === failures.length });
    },
  });
}

/** `host:port` as errors and `dbop check` print it; IPv6 in brackets. */
export function hostLabel(host: DsnHost): string {
  const name = host.host.includes(':') ? `[${host.host}]` : host.host;
  return host.port === undefined ? name : `${name}:${host.port}`;
}

/** The hosts, each once (the first place it is listed): a host listed twice is one host, tried once. */
export function distinctHosts<Host extends DsnHost>(hosts: readonly Host[]): Host[] {
  const seen = new Set<string>();
  return hosts.filter((host) => {
    const label = hostLabel(host);
    if (seen.has(label)) return false;
    seen.add(label);
    return true;
  });
}

/** The hosts in a random order (Fisher-Yates). */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

function sameHost(a: DsnHost, b: DsnHost): boolean {
  return a.host === b.host && a.port === b.port;
}

function dsnAttrs(dsn: Dsn | undefined): string | undefined {
  return dsn?.query?.target_session_attrs;
}

function checkHost(host: DsnHost): DsnHost {
  if (typeof host !== 'object' || host === null || typeof host.host !== 'string' || host.host === '') {
    throw new TypeError('Expected each of `hosts` to be { host, port? } with a non-empty host');
  }
  if (host.port !== undefined && (!Number.isInteger(host.port) || host.port < 1 || host.port > 65_535)) {
    throw new TypeError(`Expected the port of host ${hostLabel({ host: host.host })} to be 1 to 65535`);
  }
  return Object.freeze({ ...host });
}

/** Opens and probes one host within `timeoutMs`; a connection that arrives after the deadline is discarded. */
async function reach<Conn>(
  driver: HostDriver<Conn>,
  host: DsnHost,
  timeoutMs: number,
): Promise<HostConnection<Conn>> {
  const connection = await withTimeout(driver.open(host), timeoutMs, 'connecting', (late) =>
    discardQuietly(driver, late),
  );
  try {
    const role = await withTimeout(driver.role(connection, host), timeoutMs, 'asking its role');
    return { connection, host, role };
  } catch (error) {
    await discardQuietly(driver, connection);
    throw error;
  }
}

async function discardQuietly<Conn>(driver: HostDriver<Conn>, connection: Conn): Promise<void> {
  await driver.discard(connection).catch(() => undefined);
}

function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  onLate?: (value: T) => unknown,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      reject(new Error(`timed out after ${ms} ms ${what}`));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        if (timedOut) onLate?.(value);
        else resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!timedOut) reject(error);
      },
    );
  });
}

// No such database: the URL is wrong on this server, whatever the moment (Postgres 3D000, MySQL 1049).
const unknownDatabaseCodes: ReadonlySet<unknown> = new Set(['3D000', 1049, 'ER_BAD_DB_ERROR']);

/** True for a connect error that trying the same host again cannot change: a refused login, no such database. */
function refusesForGood(error: unknown): boolean {
  const fields: Record<string, unknown> = typeof error === 'object' && error !== null ? { ...error } : {};
  const { code, errno } = fields;
  if (unknownDatabaseCodes.has(code) || unknownDatabaseCodes.has(errno)) return true;
  const verdict = classify(error);
  return verdict.kind === 'auth' && !verdict.retryable;
}

/** The error's code and message, secrets redacted, on one line. */
function describeFailure(error: unknown): string {
  if (typeof error !== 'object' || error === null) return redactSecrets(String(error));
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' && message !== '' ? message : String(error);
  const prefix = typeof code === 'string' && code !== '' && !text.includes(code) ? `${code}: ` : '';
  return redactSecrets(`${prefix}${text}`.replace(/\s+/g, ' ').slice(0, 300));
}
