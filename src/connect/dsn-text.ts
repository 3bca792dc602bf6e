import { DatabaseUrlError } from './database-url-error.js';

/**
 * A database URL being parsed: the trimmed text and its offset in the input, so errors give positions in
 * what the user wrote. Every error it makes names a part and a position, never the text.
 */
export class DsnText {
  readonly #text: string;
  readonly #offset: number;

  private constructor(text: string, offset: number) {
    this.#text = text;
    this.#offset = offset;
  }

  /** The input without surrounding whitespace; control characters and unpaired surrogates are refused. */
  static trimmed(input: string): DsnText {
    let start = 0;
    let end = input.length;
    while (start < end && input.charCodeAt(start) <= 0x20) start += 1;
    while (end > start && input.charCodeAt(end - 1) <= 0x20) end -= 1;
    const text = new DsnText(input.slice(start, end), start);
    for (let index = start; index < end; index += 1) {
      const code = input.charCodeAt(index);
      if (code < 0x20 || code === 0x7f) throw text.fail('A control character', index - start);
      if (code >= 0xd800 && code <= 0xdbff) {
        const low = input.charCodeAt(index + 1);
        if (!(low >= 0xdc00 && low <= 0xdfff)) throw text.fail('An unpaired surrogate', index - start);
        index += 1;
      } else if (code >= 0xdc00 && code <= 0xdfff) {
        throw text.fail('An unpaired surrogate', index - start);
      }
    }
    return text;
  }

  get length(): number {
    return this.#text.length;
  }

  /** The UTF-16 code at `index`, NaN past the end. */
  code(index: number): number {
    return this.#text.charCodeAt(index);
  }

  slice(from: number, to?: number): string {
    return this.#text.slice(from, to);
  }

  startsWith(prefix: string, at: number): boolean {
    return this.#text.startsWith(prefix, at);
  }

  /** The first index in [from, to) holding one of `chars` (up to three), or `to`. */
  find(chars: string, from: number, to: number = this.#text.length): number {
    const a = chars.charCodeAt(0);
    const b = chars.length > 1 ? chars.charCodeAt(1) : a;
    const c = chars.length > 2 ? chars.charCodeAt(2) : a;
    for (let index = from; index < to; index += 1) {
      const code = this.#text.charCodeAt(index);
      if (code === a || code === b || code === c) return index;
    }
    return to;
  }

  /** The last index in [from, to) holding `char`, or -1. */
  findLast(char: string, from: number, to: number = this.#text.length): number {
    const index = this.#text.lastIndexOf(char, to - 1);
    return index >= from ? index : -1;
  }

  /** Percent-decodes [from, to); `plus` turns '+' into a space (query strings). */
  decode(from: number, to: number, part: string, plus = false): string {
    const raw = this.#text.slice(from, to);
    if (!raw.includes('%') && !(plus && raw.includes('+'))) return raw;
    try {
      return decodeURIComponent(plus ? raw.replaceAll('+', ' ') : raw);
    } catch {
      throw this.fail(`Invalid percent-encoding in the ${part}`, from + badEscape(raw));
    }
  }

  /** A DatabaseUrlError: `problem` at the 1-based character position of `index` in the input. */
  fail(problem: string, index: number, hint = ''): DatabaseUrlError {
    return new DatabaseUrlError(
      `${problem} at character ${this.#offset + index + 1} of the database URL${hint}`,
    );
  }
}

/** Where decoding failed: the first '%' not followed by two hex digits, else the first '%'. */
function badEscape(raw: string): number {
  for (let index = raw.indexOf('%'); index !== -1; index = raw.indexOf('%', index + 1)) {
    if (!/^[0-9a-f]{2}$/i.test(raw.slice(index + 1, index + 3))) return index;
  }
  return Math.max(raw.indexOf('%'), 0);
}
