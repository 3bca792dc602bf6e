import type { Backend } from '../../core/classification.js';
import type { DatabaseConnection } from '../../database/database-connection.js';
import type { BankTables } from './bank-schema.js';

/** One transfer between two accounts, with the id the ledger records it under. */
export interface Transfer {
  readonly id: string;
  readonly from: number;
  readonly to: number;
  readonly amount: number;
}

/**
 * Moves money inside the caller's transaction. Both rows are locked in the order the transfer names them,
 * so a→b and b→a running together deadlock on servers; between the two the worker pauses (application
 * think time), when `think` is given. SQLite's demo gives none: there every await inside the transaction
 * is time the file's one write lock is held.
 */
export async function applyTransfer(
  connection: DatabaseConnection,
  tables: BankTables,
  backend: Backend,
  transfer: Transfer,
  think?: () => Promise<void>,
): Promise<void> {
  const lock = backend === 'sqlite' ? '' : ' FOR UPDATE';
  await connection.execute(`SELECT balance FROM ${tables.accounts} WHERE id = :id${lock}`, {
    id: transfer.from,
  });
  if (think !== undefined) await think();
  await connection.execute(`SELECT balance FROM ${tables.accounts} WHERE id = :id${lock}`, {
    id: transfer.to,
  });
  await connection.execute(`UPDATE ${tables.accounts} SET balance = balance - :amount WHERE id = :id`, {
    id: transfer.from,
    amount: transfer.amount,
  });
  await connection.execute(`UPDATE ${tables.accounts} SET balance = balance + :amount WHERE id = :id`, {
    id: transfer.to,
    amount: transfer.amount,
  });
  await connection.execute(
    `INSERT INTO ${tables.transfers} (id, from_id, to_id, amount) VALUES (:id, :from_id, :to_id, :amount)`,
    { id: transfer.id, from_id: transfer.from, to_id: transfer.to, amount: transfer.amount },
  );
}
