/** Where a command writes; tests pass their own. */
export interface CliIo {
  readonly stdout: CliStream;
  readonly stderr: CliStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The part of a process stream the CLI uses. */
export interface CliStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** The process's own streams and environment. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}
