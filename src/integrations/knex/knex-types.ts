/** The subset of Knex's client dbop uses: the pool (acquire, release) and the one query path. */
export interface KnexClientLike {
  readonly dialect: string;
  readonly driverName: string;
  readonly config?: { readonly compileSqlOnError?: boolean };
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
  query(connection: unknown, query: KnexQueryObject | string): Promise<KnexQueryObject>;
  transaction(container: (trx: never) => unknown, config: object, outerTx?: unknown): PromiseLike<unknown>;
  _escapeBinding?(value: unknown, options: object): string;
}

/** What Knex's client sends and returns: the SQL, its bindings, and the driver's response. */
export interface KnexQueryObject {
  sql: string;
  bindings?: readonly unknown[];
  method?: string;
  response?: unknown;
}

/** A Knex instance as far as dbop needs one (the function with `.client`). */
export interface KnexLike {
  readonly client: KnexClientLike;
}
