import type { CliStream } from '../cli-io.js';

/** Live counters the progress line shows. */
export interface ProgressSnapshot {
  readonly elapsedS: number;
  readonly committed: number;
  readonly retriesByKind: Readonly<Record<string, number>>;
  readonly failed: number;
}

/** One line of progress text. */
export function formatProgress(snapshot: ProgressSnapshot): string {
  const rate = snapshot.elapsedS > 0 ? snapshot.committed / snapshot.elapsedS : 0;
  const retries = Object.entries(snapshot.retriesByKind)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(', ');
  return (
    `${snapshot.elapsedS.toFixed(1)}s  committed ${snapshot.committed} (${rate.toFixed(0)}/s)  ` +
    `retries ${retries === '' ? '0' : retries}  failed ${snapshot.failed}`
  );
}

/**
 * Shows progress: one line rewritten in place on a TTY, plain lines once a second otherwise.
 * Writes to stderr so `--json` keeps stdout clean.
 */
export class ProgressLine {
  readonly #stream: CliStream;
  #lastPlain = -1;

  constructor(stream: CliStream) {
    this.#stream = stream;
  }

  /** Shows the snapshot (throttled to one plain line per second off a TTY). */
  update(snapshot: ProgressSnapshot): void {
    if (this.#stream.isTTY === true) {
      this.#stream.write(`\r\x1b[2K${formatProgress(snapshot)}`);
      return;
    }
    const second = Math.floor(snapshot.elapsedS);
    if (second === this.#lastPlain) return;
    this.#lastPlain = second;
    this.#stream.write(`${formatProgress(snapshot)}\n`);
  }

  /** Ends the updating line so the report starts on a fresh one. */
  done(): void {
    if (this.#stream.isTTY === true) this.#stream.write('\n');
  }
}
