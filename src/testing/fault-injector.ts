import { describeValue, invalid, rejectUnknownKeys } from '../core/validate.js';
import { connectFaults, type Fault, faults } from './faults.js';

/**
 * When a fault strikes. Conditions combine (all must hold): `statement` matches the SQL (a string is a
 * case-insensitive substring), `nth` is the injector's statement count (1-based, over every wrapped
 * connection), `probability` draws from the seeded generator. `times` caps how often the rule fires
 * (default: once for `nth`, unlimited otherwise).
 */
export interface FaultRule {
  readonly fault: Fault;
  readonly statement?: string | RegExp;
  readonly nth?: number;
  readonly probability?: number;
  readonly times?: number;
  /** commit-lost only: whether the COMMIT really landed before the connection was lost. Default false. */
  readonly committed?: boolean;
}

/** One injected fault, as {@link FaultInjector.injected} records it. */
export interface InjectedFault {
  readonly fault: Fault;
  /** Index of the rule in the order rules were added. */
  readonly rule: number;
  /** The statement count when it struck (0 for a connect fault). */
  readonly seq: number;
  /** The statement's SQL, or 'connect'. */
  readonly statement: string;
  /** commit-lost only. */
  readonly committed?: boolean;
}

/** Options of {@link FaultInjector}. */
export interface FaultInjectorOptions {
  /** Seed of the generator behind `probability` rules (0 to 2^32 - 1): the same seed, the same faults. Default 1. */
  readonly seed?: number;
  readonly rules?: readonly FaultRule[];
}

const ruleKeys: ReadonlySet<string> = new Set([
  'fault',
  'statement',
  'nth',
  'probability',
  'times',
  'committed',
]);
const injectorKeys: ReadonlySet<string> = new Set(['seed', 'rules']);
const commitStatement = /^\s*COMMIT\b|;\s*COMMIT\b/i;

/** A wrap's check of the faults it can inject: throws a TypeError for one it cannot. */
type FaultCheck = (fault: Fault) => void;
const checks = new WeakMap<FaultInjector, FaultCheck[]>();

/**
 * Runs `check` on the faults the injector's rules produce now, and on every rule added later: a wrap
 * refuses a fault it cannot inject whether the rule came before or after it.
 */
export function guardFaults(injector: FaultInjector, check: FaultCheck): void {
  for (const fault of injector.faults()) check(fault);
  checks.set(injector, [...(checks.get(injector) ?? []), check]);
}

interface LiveRule {
  readonly rule: FaultRule;
  readonly index: number;
  fired: number;
}

/**
 * Decides which statements fail, and records what it injected. Deterministic: given the same seed, rules
 * and sequence of statements, it injects the same faults. Wrap connections, pools or sources with the
 * `inject*` functions of dbop/testing to put it to work.
 * @example const faults = new FaultInjector({ seed: 7, rules: [{ fault: 'serialization', probability: 0.2 }] });
 */
export class FaultInjector {
  readonly #rules: LiveRule[] = [];
  readonly #injected: InjectedFault[] = [];
  #state: number;
  #statements = 0;
  #enabled = true;

  constructor(options: FaultInjectorOptions = {}) {
    if (typeof options !== 'object' || options === null) invalid('options', 'an object', options);
    rejectUnknownKeys(options, injectorKeys, 'FaultInjector');
    const seed = options.seed ?? 1;
    if (!Number.isSafeInteger(seed)) invalid('seed', 'an integer', seed);
    // The generator keeps 32 bits: a wider seed would silently give another seed's faults.
    if (seed < 0 || seed > 0xffffffff) invalid('seed', 'an integer from 0 to 4294967295', seed);
    this.#state = seed;
    const rules = options.rules ?? [];
    if (!Array.isArray(rules)) invalid('rules', 'an array', rules);
    for (const rule of rules) this.add(rule);
  }

  /** Adds a rule; rules are checked in the order added, the first that fires wins. */
  add(rule: FaultRule): this {
    checkRule(rule);
    for (const check of checks.get(this) ?? []) check(rule.fault);
    this.#rules.push({ rule: Object.freeze({ ...rule }), index: this.#rules.length, fired: 0 });
    return this;
  }

  /** Removes every rule (the record stays). */
  clear(): this {
    this.#rules.length = 0;
    return this;
  }

  /** Stops (false) or resumes (true) injecting, rules kept. */
  enable(on: boolean): this {
    this.#enabled = on;
    return this;
  }

  /** Every fault injected so far, oldest first. */
  get injected(): readonly InjectedFault[] {
    return this.#injected;
  }

  /** How many statements went through wrapped connections. */
  get statements(): number {
    return this.#statements;
  }

  /** The faults this injector's rules can produce. */
  faults(): ReadonlySet<Fault> {
    return new Set(this.#rules.map((live) => live.rule.fault));
  }

  /** Counts one statement and returns the fault to inject instead of (or around) it, if any. */
  onStatement(sql: string): InjectedFault | undefined {
    this.#statements += 1;
    return this.#pick(sql, false);
  }

  /** Returns the fault to inject instead of opening a connection, if any. */
  onConnect(): InjectedFault | undefined {
    return this.#pick('connect', true);
  }

  #pick(sql: string, connecting: boolean): InjectedFault | undefined {
    if (!this.#enabled) return undefined;
    for (const live of this.#rules) {
      const { rule } = live;
      if (connectFaults.has(rule.fault) !== connecting) continue;
      if (rule.fault === 'commit-lost' && !commitStatement.test(sql)) continue;
      const times = rule.times ?? (rule.nth === undefined ? Number.POSITIVE_INFINITY : 1);
      if (live.fired >= times) continue;
      if (rule.nth !== undefined && (connecting || rule.nth !== this.#statements)) continue;
      if (!connecting && !matches(rule.statement, sql)) continue;
      // Drawn only for rules that got this far, so adding a pattern rule does not shift other draws.
      if (rule.probability !== undefined && this.#random() >= rule.probability) continue;
      live.fired += 1;
      const injected: InjectedFault = Object.freeze({
        fault: rule.fault,
        rule: live.index,
        seq: connecting ? 0 : this.#statements,
        statement: sql,
        ...(rule.fault === 'commit-lost' ? { committed: rule.committed === true } : {}),
      });
      this.#injected.push(injected);
      return injected;
    }
    return undefined;
  }

  /** mulberry32: small, fast, and the same sequence on every platform. */
  #random(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

function matches(pattern: string | RegExp | undefined, sql: string): boolean {
  if (pattern === undefined) return true;
  if (typeof pattern === 'string') return sql.toLowerCase().includes(pattern.toLowerCase());
  pattern.lastIndex = 0;
  return pattern.test(sql);
}

function checkRule(rule: FaultRule): void {
  if (typeof rule !== 'object' || rule === null) invalid('rule', 'an object', rule);
  rejectUnknownKeys(rule, ruleKeys, 'a fault rule');
  if (!(faults as readonly unknown[]).includes(rule.fault)) {
    invalid('fault', `one of ${faults.map((f) => `"${f}"`).join(', ')}`, rule.fault);
  }
  const { statement, nth, probability, times, committed } = rule;
  if (statement !== undefined && typeof statement !== 'string' && !(statement instanceof RegExp)) {
    invalid('statement', 'a string or a RegExp', statement);
  }
  if (nth !== undefined && (!Number.isSafeInteger(nth) || nth < 1)) invalid('nth', 'a positive integer', nth);
  if (
    probability !== undefined &&
    !(typeof probability === 'number' && probability >= 0 && probability <= 1)
  ) {
    invalid('probability', 'a number from 0 to 1', probability);
  }
  if (times !== undefined && (!Number.isSafeInteger(times) || times < 0)) {
    invalid('times', 'a non-negative integer', times);
  }
  if (committed !== undefined && typeof committed !== 'boolean') invalid('committed', 'a boolean', committed);
  if (committed !== undefined && rule.fault !== 'commit-lost') {
    throw new TypeError(`\`committed\` applies to the "commit-lost" fault only, got it on "${rule.fault}"`);
  }
  if (connectFaults.has(rule.fault) && (statement !== undefined || nth !== undefined)) {
    throw new TypeError(
      `"${rule.fault}" happens when a connection opens: \`statement\` and \`nth\` do not apply (${describeValue(statement ?? nth)})`,
    );
  }
}
