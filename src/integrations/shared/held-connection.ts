/** A connection taken from an ORM that only lends one for the length of a callback, and the way back. */
export interface HeldConnection<Connection> {
  readonly connection: Connection;
  /** Ends the ORM's callback, so the ORM releases the connection through its own pool; settles when it has. */
  release(): Promise<void>;
}

/**
 * Holds a connection an ORM lends to a callback (Kysely's provideConnection, Knex's and Sequelize's
 * transaction-free checkouts) until release() is called, so dbop can use it across several awaits while
 * the ORM keeps doing the releasing.
 */
export function holdConnection<Connection>(
  lend: (consumer: (connection: Connection) => Promise<void>) => Promise<unknown>,
): Promise<HeldConnection<Connection>> {
  return new Promise((resolve, reject) => {
    let letGo!: () => void;
    const released = new Promise<void>((done) => {
      letGo = done;
    });
    let lent = false;
    const returned = lend(async (connection) => {
      lent = true;
      resolve({
        connection,
        async release() {
          letGo();
          await returned.catch(() => undefined);
        },
      });
      await released;
    });
    returned.catch((error: unknown) => {
      if (!lent) reject(error);
    });
  });
}
