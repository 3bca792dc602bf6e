import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './usage-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parsed flags and positionals of one command. */
export interface CommandArgs {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/** Strict parseArgs: unknown flags, missing values and stray arguments become a {@link UsageError}. */
export function parseCommandArgs(
  command: string,
  args: readonly string[],
  options: Options,
  maxPositionals: number,
): CommandArgs {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(`dbop ${command}: ${(error as Error).message.replace(/\. To specify .*$/s, '')}`);
  }
  if (parsed.positionals.length > maxPositionals) {
    const extra = parsed.positionals.slice(maxPositionals).join(' ');
    throw new UsageError(`dbop ${command}: unexpected argument "${extra}"`);
  }
  return { values: parsed.values as CommandArgs['values'], positionals: parsed.positionals };
}

/** Reads an integer flag within [min, max], or the fallback when it is absent. */
export function integerFlag(
  command: string,
  args: CommandArgs,
  name: string,
  range: { readonly min: number; readonly max: number; readonly fallback: number },
): number {
  const text = args.values[name];
  if (text === undefined) return range.fallback;
  const value = Number(text);
  if (typeof text !== 'string' || !/^\d+$/.test(text) || value < range.min || value > range.max) {
    throw new UsageError(
      `dbop ${command}: --${name} must be an integer from ${range.min} to ${range.max}, got "${String(text)}"`,
    );
  }
  return value;
}

/** Reads a decimal flag (seconds, milliseconds) within [min, max], or the fallback when absent. */
export function numberFlag(
  command: string,
  args: CommandArgs,
  name: string,
  range: { readonly min: number; readonly max: number; readonly fallback: number },
): number {
  const text = args.values[name];
  if (text === undefined) return range.fallback;
  const value = Number(text);
  if (
    typeof text !== 'string' ||
    text.trim() === '' ||
    !Number.isFinite(value) ||
    value < range.min ||
    value > range.max
  ) {
    throw new UsageError(
      `dbop ${command}: --${name} must be a number from ${range.min} to ${range.max}, got "${String(text)}"`,
    );
  }
  return value;
}
