/** Shows a bad option value in an error message without dumping whole objects. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null || typeof value !== 'object') return String(value);
  return 'an object';
}

/** Throws the precise TypeError every option check uses. */
export function invalid(name: string, expected: string, value: unknown): never {
  throw new TypeError(`Expected \`${name}\` to be ${expected}, got ${describeValue(value)}`);
}

/** Rejects keys a typo would otherwise make silently ignored. */
export function rejectUnknownKeys(options: object, known: ReadonlySet<string>, where: string): void {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) {
      throw new TypeError(`Unknown option \`${key}\` of ${where}; known options: ${[...known].join(', ')}`);
    }
  }
}

/** Checks that options is undefined or a plain object. */
export function expectOptionsObject(options: unknown, where: string): asserts options is object | undefined {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new TypeError(`Expected the options of ${where} to be an object, got ${describeValue(options)}`);
  }
}

/** A finite number >= min. */
export function expectFiniteAtLeast(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    invalid(name, min === 0 ? 'a finite non-negative number' : `a finite number >= ${min}`, value);
  }
  return value;
}

/** A finite number > 0. */
export function expectPositive(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    invalid(name, 'a finite positive number', value);
  }
  return value;
}

/** A function, or undefined. */
export function expectOptionalFunction(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') invalid(name, 'a function', value);
}

/** A boolean, or undefined. */
export function expectOptionalBoolean(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean') invalid(name, 'a boolean', value);
}
