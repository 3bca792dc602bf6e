/** The failures the kit can inject, each as the server (or the driver) really reports it. */
export const faults = [
  'serialization',
  'deadlock',
  'lock-timeout',
  'statement-timeout',
  'read-only',
  'connection-lost',
  'commit-lost',
  'server-shutdown',
  'too-many-connections',
] as const;

/** One of {@link faults}. */
export type Fault = (typeof faults)[number];

/** The drivers whose errors the kit reproduces. */
export const faultDrivers = ['pg', 'mysql2', 'mariadb', 'better-sqlite3', 'pglite'] as const;

/** One of {@link faultDrivers}. */
export type FaultDriver = (typeof faultDrivers)[number];

/** Faults that happen when a connection is opened, not when a statement runs. */
export const connectFaults: ReadonlySet<Fault> = new Set(['too-many-connections']);

/** Faults a driver cannot meet: an embedded database has no connection to lose and no server to stop. */
const unsupported: Readonly<Record<FaultDriver, ReadonlySet<Fault>>> = {
  pg: new Set(),
  mysql2: new Set(),
  mariadb: new Set(),
  'better-sqlite3': new Set([
    'statement-timeout',
    'connection-lost',
    'commit-lost',
    'server-shutdown',
    'too-many-connections',
  ]),
  pglite: new Set(['connection-lost', 'commit-lost', 'server-shutdown', 'too-many-connections']),
};

/** True when `driver` can really fail with `fault`. */
export function driverMeets(driver: FaultDriver, fault: Fault): boolean {
  return !unsupported[driver].has(fault);
}
