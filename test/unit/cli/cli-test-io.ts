import type { CliIo } from '../../../src/cli/cli-io.js';

/** A CliIo that records what the command wrote. */
export function recordingIo(
  options: { readonly tty?: boolean } = {},
): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (text: string) => (out += text), isTTY: options.tty ?? false },
    stderr: { write: (text: string) => (err += text), isTTY: options.tty ?? false },
    env: {},
    out: () => out,
    err: () => err,
  };
}
