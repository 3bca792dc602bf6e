import { describe, expect, it } from 'vitest';
import { FaultInjector } from '../../../src/testing/fault-injector.js';
import { injectDriverFaults } from '../../../src/testing/inject-driver.js';

const statements = Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? 'COMMIT' : `UPDATE t SET v = ${i}`));

function run(injector: FaultInjector): (string | undefined)[] {
  return statements.map((sql) => injector.onStatement(sql)?.fault);
}

describe('FaultInjector', () => {
  it('is deterministic under a seed, and another seed gives other faults', () => {
    const rules = [{ fault: 'serialization', probability: 0.2 }] as const;
    const a = run(new FaultInjector({ seed: 42, rules }));
    expect(run(new FaultInjector({ seed: 42, rules }))).toEqual(a);
    expect(run(new FaultInjector({ seed: 43, rules }))).not.toEqual(a);
    const hits = a.filter(Boolean).length;
    // 200 draws at p = 0.2: far from 0 and from 200 whatever the seed.
    expect(hits).toBeGreaterThan(10);
    expect(hits).toBeLessThan(80);
  });

  it('strikes the Nth statement once, and counts every statement', () => {
    const injector = new FaultInjector({ rules: [{ fault: 'deadlock', nth: 5 }] });
    const faults = run(injector);
    expect(faults.flatMap((f, i) => (f ? [i + 1] : []))).toEqual([5]);
    expect(injector.statements).toBe(200);
    expect(injector.injected).toEqual([
      { fault: 'deadlock', rule: 0, seq: 5, statement: 'UPDATE t SET v = 4' },
    ]);
  });

  it('matches statements by substring (any case) or RegExp, up to `times`', () => {
    const injector = new FaultInjector({
      rules: [
        { fault: 'lock-timeout', statement: 'v = 1', times: 2 },
        { fault: 'statement-timeout', statement: /v = 2\d$/ },
      ],
    });
    run(injector);
    expect(injector.injected.map((f) => [f.fault, f.statement])).toEqual([
      ['lock-timeout', 'UPDATE t SET v = 1'],
      ['lock-timeout', 'UPDATE t SET v = 10'],
      ['statement-timeout', 'UPDATE t SET v = 20'],
      ['statement-timeout', 'UPDATE t SET v = 22'],
      ['statement-timeout', 'UPDATE t SET v = 23'],
      ['statement-timeout', 'UPDATE t SET v = 25'],
      ['statement-timeout', 'UPDATE t SET v = 26'],
      ['statement-timeout', 'UPDATE t SET v = 28'],
      ['statement-timeout', 'UPDATE t SET v = 29'],
    ]);
  });

  it('strikes a lost COMMIT only on COMMIT, records whether it landed, and connect faults only on connect', () => {
    const injector = new FaultInjector({
      rules: [
        { fault: 'commit-lost', committed: true, times: 1 },
        { fault: 'too-many-connections', times: 1 },
      ],
    });
    expect(injector.onStatement('UPDATE t SET v = 1')).toBeUndefined();
    expect(injector.onStatement('SELECT 1 AS xid;\nCOMMIT')).toMatchObject({
      fault: 'commit-lost',
      committed: true,
    });
    expect(injector.onConnect()).toMatchObject({
      fault: 'too-many-connections',
      seq: 0,
      statement: 'connect',
    });
    expect(injector.onConnect()).toBeUndefined();
  });

  it('can be paused and cleared', () => {
    const injector = new FaultInjector({ rules: [{ fault: 'read-only' }] });
    injector.enable(false);
    expect(injector.onStatement('UPDATE t')).toBeUndefined();
    injector.enable(true);
    expect(injector.onStatement('UPDATE t')?.fault).toBe('read-only');
    injector.clear();
    expect(injector.onStatement('UPDATE t')).toBeUndefined();
    expect(injector.injected).toHaveLength(1);
  });

  it('rejects bad rules with a precise TypeError', () => {
    const make = (rule: unknown) => () => new FaultInjector({ rules: [rule as never] });
    expect(make({ fault: 'meteor' })).toThrow(/Expected `fault` to be one of "serialization"/);
    expect(make({ fault: 'deadlock', probability: 2 })).toThrow(
      'Expected `probability` to be a number from 0 to 1, got 2',
    );
    expect(make({ fault: 'deadlock', nth: 0 })).toThrow('Expected `nth` to be a positive integer, got 0');
    expect(make({ fault: 'deadlock', committed: true })).toThrow(/applies to the "commit-lost" fault only/);
    expect(make({ fault: 'too-many-connections', statement: 'x' })).toThrow(
      /happens when a connection opens/,
    );
    expect(make({ fault: 'deadlock', statment: 'x' })).toThrow(/Unknown option `statment`/);
    expect(() => new FaultInjector({ seed: 1.5 })).toThrow('Expected `seed` to be an integer, got 1.5');
  });

  it('rejects a `rules` that is not an array, naming `rules`', () => {
    expect(() => new FaultInjector({ rules: 'deadlock' as never })).toThrow(
      'Expected `rules` to be an array, got "deadlock"',
    );
    expect(() => new FaultInjector({ rules: { fault: 'deadlock' } as never })).toThrow(
      /Expected `rules` to be an array/,
    );
  });

  it('rejects a seed the generator would silently fold onto another (outside 0 to 2^32 - 1)', () => {
    // The generator keeps 32 bits: 2^32 + 1 would give seed 1's faults, -1 those of 2^32 - 1.
    for (const seed of [-1, 2 ** 32, 2 ** 32 + 1, Date.UTC(2026, 0, 1)]) {
      expect(() => new FaultInjector({ seed })).toThrow(
        `Expected \`seed\` to be an integer from 0 to 4294967295, got ${seed}`,
      );
    }
    expect(() => new FaultInjector({ seed: 0 })).not.toThrow();
    expect(() => new FaultInjector({ seed: 2 ** 32 - 1 })).not.toThrow();
  });

  it('a rule added after wrapping is checked against the wrap as one given before', () => {
    const faults = new FaultInjector();
    injectDriverFaults({}, faults, { driver: 'better-sqlite3' });
    expect(() => faults.add({ fault: 'connection-lost' })).toThrow(
      'The better-sqlite3 driver never fails with "connection-lost"',
    );
    // The refused rule is not kept.
    expect([...faults.faults()]).toEqual([]);
    expect(() => faults.add({ fault: 'deadlock' })).not.toThrow();
  });
});
