import { buildDsn } from '../../connect/build-dsn.js';
import {
  type ConnectionFactory,
  connectionFactory,
  distinctHosts,
  type HostConnection,
  type HostDriver,
} from '../../connect/connection-factory.js';
import type { Dsn, DsnHost } from '../../connect/dsn.js';
import { NoHostAvailableError } from '../../connect/no-host-available-error.js';
import { probeRole } from '../../connect/probe-role.js';
import { type HostRole, isTargetSessionAttrs } from '../../connect/target-session-attrs.js';
import type { Backend, ErrorKind } from '../../core/classification.js';
import type { BeginOptions, Session } from '../../core/session.js';
import { classify } from '../../dialects/classify.js';
import { markDemotedWriter } from '../../dialects/failover-marker.js';
import { interceptStatements } from '../counting-session.js';
import type { ConnectorSettings, DriverConnector, PoolCounts, RowStream } from './driver-connector.js';

/** What createDatabase adds for a multi-host URL. */
export interface MultiHostSettings {
  /** After this Database used the primary, readOnly work stays on the primary this long (ms); 0: never. */
  readonly readYourWritesMs: number;
}

/** One host: its own pool, and a generation bumped whenever the host showed signs of changing role. */
interface HostEntry {
  readonly host: DsnHost;
  readonly connector: DriverConnector;
  generation: number;
}

/** How often a connect that found no host of the role asked for asks the hosts again, ms. */
const discoveryPollMs = 20;

/** Errors after which a host may have changed role (or gone): its cached roles are probed again. */
const failoverKinds: ReadonlySet<ErrorKind> = new Set([
  'read-only',
  'connection-lost',
  'server-shutdown',
  'server-starting',
  'connect-failed',
]);

/**
 * True when createDatabase goes through the connection layer: several hosts, or one with a
 * target_session_attrs other than any (the role is then checked on connect, as libpq does).
 */
export function usesConnectLayer(target: Dsn): boolean {
  const attrs = target.query?.target_session_attrs;
  return (target.hosts?.length ?? 0) > 1 || (attrs !== undefined && attrs !== 'any');
}

/**
 * A DriverConnector over one pool per host (`openHost`, the seam a pool replaces): writes go to the host
 * the URL's target_session_attrs picks (default read-write), readOnly work to a standby (prefer-standby,
 * falling back to the primary). Every new connection's role is checked before use, and checked again after
 * any sign of a failover. A write connection whose server turned read-only (25006, 1290, 1836) is destroyed
 * and its error marked so the runner retries the unit at connection scope, on the primary found again: a
 * demoted primary never takes a write. Lost connections keep their usual verdicts (a lost COMMIT stays
 * ambiguous unless verified).
 */
export async function openMultiHostConnector(
  target: Dsn,
  settings: ConnectorSettings,
  multi: MultiHostSettings,
  openHost: (dsn: Dsn) => Promise<DriverConnector>,
): Promise<DriverConnector & { acquireReader(): Promise<Session> }> {
  const entries: HostEntry[] = [];
  // One pool per distinct host: a host listed twice would get two pools and be tried twice per connect.
  for (const host of distinctHosts(target.hosts ?? [])) {
    entries.push({ host, connector: await openHost(buildDsn(target, { hosts: [host] })), generation: 0 });
  }
  // The factory hands back its own frozen copies of the hosts: matched by name and port.
  const entryOf = (host: DsnHost): HostEntry =>
    entries.find((e) => e.host.host === host.host && e.host.port === host.port) ?? entries[0]!;
  const owners = new WeakMap<Session, { entry: HostEntry; session: Session; writer: boolean }>();
  const guards = new WeakMap<Session, { writer?: GuardedSession; reader?: GuardedSession }>();
  const probed = new WeakMap<object, { generation: number; role: HostRole }>();
  let lastEntry = entries[0]!;
  let lastWriterUse = Number.NEGATIVE_INFINITY;

  // Which host each pooled session came from, until it is handed out or given back.
  const hostOfSession = new WeakMap<Session, DsnHost>();
  const driver: HostDriver<Session> = {
    async open(host) {
      const session = await entryOf(host).connector.acquire();
      hostOfSession.set(session, host);
      return session;
    },
    async role(session, host) {
      const entry = entryOf(host);
      const key = session.raw as object;
      const known = probed.get(key);
      if (known !== undefined && known.generation === entry.generation) return known.role;
      const role = await probeRole(session);
      probed.set(key, { generation: entry.generation, role });
      return role;
    },
    // A healthy connection of the wrong role goes back to its host's pool (the other factory may use it).
    async discard(session) {
      const host = hostOfSession.get(session);
      await (host === undefined ? lastEntry : entryOf(host)).connector.release(session);
    },
  };
  const attrs = target.query?.target_session_attrs;
  const common = {
    driver,
    hosts: entries.map((e) => e.host),
    loadBalanceHosts: target.query?.load_balance_hosts === 'random',
    connectTimeoutMs: settings.connectTimeoutMs,
  };
  const writerAttrs = attrs !== undefined && isTargetSessionAttrs(attrs) ? attrs : 'read-write';
  const writers = connectionFactory({ ...common, targetSessionAttrs: writerAttrs });
  // Only a writer meant for the primary treats a read-only answer as a failover (standby asked for it).
  const primaryWriter = writerAttrs === 'read-write' || writerAttrs === 'primary';
  const readers = connectionFactory({ ...common, targetSessionAttrs: 'prefer-standby' });

  // One discovery loop per factory at a time, however many units wait for it.
  const discoveries = new Map<ConnectionFactory<Session>, Promise<void>>();
  const connectOnce = async (factory: ConnectionFactory<Session>): Promise<HostConnection<Session>> => {
    try {
      return await factory.connect();
    } catch (error) {
      // No host has the role asked for: a standby may be being promoted. Trust no cached role next time.
      for (const entry of entries) entry.generation += 1;
      throw error;
    }
  };
  /**
   * factory.connect(); when no host has the role but some host answered with another one (a failover
   * under way), asks again every {@link discoveryPollMs} for up to connectTimeoutMs, so the unit goes on
   * within a poll of the new primary accepting writes instead of sleeping a retry backoff.
   */
  const connectWaiting = async (factory: ConnectionFactory<Session>): Promise<HostConnection<Session>> => {
    try {
      return await connectOnce(factory);
    } catch (error) {
      if (!(error instanceof NoHostAvailableError) || !error.someHostReached) throw error;
      let discovery = discoveries.get(factory);
      if (discovery === undefined) {
        discovery = discover(factory).finally(() => discoveries.delete(factory));
        discoveries.set(factory, discovery);
      }
      await discovery;
      return connectOnce(factory);
    }
  };
  const discover = async (factory: ConnectionFactory<Session>): Promise<void> => {
    const until = performance.now() + settings.connectTimeoutMs;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, discoveryPollMs));
      try {
        const found = await connectOnce(factory);
        await entryOf(found.host).connector.release(found.connection);
        return;
      } catch (error) {
        if (performance.now() >= until) throw error;
      }
    }
  };

  const suspect = (entry: HostEntry): void => {
    entry.generation += 1;
    writers.forget(entry.host);
    readers.forget(entry.host);
  };

  const take = async (factory: ConnectionFactory<Session>, writer: boolean): Promise<Session> => {
    const { connection, host } = await connectWaiting(factory);
    const entry = entryOf(host);
    lastEntry = entry;
    // One guard per pooled connection and role, made once: a wrapper per checkout, kept in the WeakMaps
    // here and in the Database, outlived the young generation and cost its GC on every call.
    let made = guards.get(connection);
    if (made === undefined) {
      made = {};
      guards.set(connection, made);
    }
    const role = writer ? 'writer' : 'reader';
    const cached = made[role];
    if (cached !== undefined) {
      // Lent afresh: whatever its last holder began is over (a connection given back in a transaction is
      // destroyed by the pool).
      cached.readOnlyTransaction = !writer;
      return cached.session;
    }
    const guarded = guardSession(connection, writer, (error, readOnlyTransaction) => {
      const kind = classify(error, { dialect: connection.dialect }).kind;
      if (!failoverKinds.has(kind)) return;
      suspect(entry);
      if (kind === 'read-only' && writer && primaryWriter && !readOnlyTransaction) {
        markDemotedWriter(error);
        connection.destroy(error);
      }
    });
    made[role] = guarded;
    owners.set(guarded.session, { entry, session: connection, writer });
    return guarded.session;
  };

  const counts = (): PoolCounts =>
    entries.reduce(
      (sum, e) => {
        const c = e.connector.counts();
        return { total: sum.total + c.total, idle: sum.idle + c.idle, waiting: sum.waiting + c.waiting };
      },
      { total: 0, idle: 0, waiting: 0 },
    );

  const connector: DriverConnector & { acquireReader(): Promise<Session> } = {
    backend: (): Backend => lastEntry.connector.backend(),
    acquire: () => take(writers, true),
    acquireReader: () =>
      performance.now() - lastWriterUse < multi.readYourWritesMs ? take(writers, true) : take(readers, false),
    async release(session) {
      const owner = owners.get(session);
      if (owner === undefined) return lastEntry.connector.release(session);
      if (owner.writer) lastWriterUse = performance.now();
      await owner.entry.connector.release(owner.session);
    },
    async close() {
      await Promise.all(entries.map((e) => e.connector.close()));
    },
    counts,
  };
  if (entries.some((e) => e.connector.stream !== undefined)) {
    connector.stream = (session: Session, sql: string, values: readonly unknown[]): RowStream => {
      const owner = owners.get(session);
      const entry = owner?.entry ?? lastEntry;
      return entry.connector.stream!(owner?.session ?? session, sql, values);
    };
  }
  return connector;
}

/**
 * The session with every failed statement reported to `onError` (with whether the open transaction was
 * begun read-only) before it propagates.
 */
function guardSession(
  session: Session,
  writer: boolean,
  onError: (error: unknown, readOnlyTransaction: boolean) => void,
): GuardedSession {
  const guard: GuardedSession = {
    session,
    readOnlyTransaction: !writer,
  };
  guard.session = interceptStatements(session, {
    call(property, args) {
      if (property === 'begin')
        guard.readOnlyTransaction = (args[0] as BeginOptions | undefined)?.readOnly === true;
    },
    error: (error) => onError(error, guard.readOnlyTransaction),
    settle(property) {
      if (property === 'commit' || property === 'rollback') guard.readOnlyTransaction = !writer;
    },
  });
  return guard;
}

/** A session whose failed statements are reported, with whether its open transaction was begun read-only. */
interface GuardedSession {
  session: Session;
  readOnlyTransaction: boolean;
}
