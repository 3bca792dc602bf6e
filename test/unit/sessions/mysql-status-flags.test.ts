import { describe, expect, it } from 'vitest';
import { mysql2StatusAfter, statusWithoutFlags } from '../../../src/sessions/shared/mysql-family.js';

const idle = 2; // SERVER_STATUS_AUTOCOMMIT
const open = 3; // autocommit and SERVER_STATUS_IN_TRANS
const manual = 0; // autocommit off, no transaction yet

describe('MySQL status flags without an OK packet', () => {
  it('a result set or an error keeps the flags while autocommit is on', () => {
    expect(statusWithoutFlags(idle, false, false)).toBe(idle);
    expect(statusWithoutFlags(open, false, false)).toBe(open);
    expect(statusWithoutFlags(idle, true, false)).toBe(idle);
  });
  it('unknown with autocommit off, after an error inside a transaction, or after several statements failed', () => {
    expect(statusWithoutFlags(manual, false, false)).toBeUndefined();
    expect(statusWithoutFlags(open, true, false)).toBeUndefined();
    expect(statusWithoutFlags(idle, true, true)).toBeUndefined();
    expect(statusWithoutFlags(undefined, false, false)).toBeUndefined();
  });
  it("mysql2: an OK packet's flags, a CALL's closing OK packet, a single result set carried over", () => {
    expect(mysql2StatusAfter(idle, { serverStatus: open, affectedRows: 0 }, false)).toBe(open);
    expect(mysql2StatusAfter(open, [[{ a: 1 }], { serverStatus: idle }], false)).toBe(idle);
    expect(mysql2StatusAfter(open, [{ a: 1 }], false)).toBe(open);
    expect(mysql2StatusAfter(manual, [{ a: 1 }], false)).toBeUndefined();
    // Several statements ending in a result set: the earlier ones may have changed the state.
    expect(mysql2StatusAfter(idle, [{ serverStatus: open }, [{ a: 1 }]], true)).toBeUndefined();
  });
});
