/** The subset of a PGlite instance a session needs. */
export interface PgliteLike {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[]; affectedRows?: number }>;
  exec(sql: string): Promise<Array<{ rows: unknown[]; command?: string }>>;
  isInTransaction?(): boolean;
}
