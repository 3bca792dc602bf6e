import type { CliIo } from './cli-io.js';

/** One `dbop` subcommand. */
export interface CliCommand {
  readonly name: string;
  /** One line for `dbop --help`. */
  readonly summary: string;
  /** The full `dbop <name> --help` text. */
  readonly help: string;
  /** Runs with the arguments after the command name; resolves to the exit code. */
  run(args: readonly string[], io: CliIo): Promise<number>;
}
