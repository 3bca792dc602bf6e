/** What the helper needs from a pg Pool or Client. */
interface Queryable {
  query(sql: string): Promise<unknown>;
}

/**
 * Creates `table (id INT PRIMARY KEY, n INT NOT NULL DEFAULT 0)` with a deferred constraint trigger: a row
 * inserted with n = 1 makes its transaction's COMMIT sleep `seconds` inside the trigger, long enough for a
 * test to kill the backend in the middle of COMMIT. Drop it with `DROP TABLE table; DROP FUNCTION table_slow()`.
 */
export async function createSlowCommitTable(db: Queryable, table: string, seconds: number): Promise<void> {
  await db.query(`CREATE TABLE ${table} (id INT PRIMARY KEY, n INT NOT NULL DEFAULT 0)`);
  await db.query(`CREATE FUNCTION ${table}_slow() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.n = 1 THEN PERFORM pg_sleep(${seconds}); END IF; RETURN NULL; END $$`);
  await db.query(`CREATE CONSTRAINT TRIGGER ${table}_slow AFTER INSERT ON ${table}
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${table}_slow()`);
}
