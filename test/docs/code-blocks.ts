import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** One fenced code block of a Markdown file. */
export interface CodeBlock {
  /** The Markdown file, relative to the repository root. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The info string's first word: `ts`, `sh`, or '' for a bare fence. */
  readonly lang: string;
  readonly code: string;
}

/** The repository's user-facing Markdown: README.md and docs/*.md. */
export function documentationFiles(root: string): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => join(root, 'docs', name));
  return [join(root, 'README.md'), ...docs];
}

/** The fenced code blocks of one Markdown file, in order (``` and ~~~ fences; indented blocks are not code here). */
export function codeBlocks(root: string, path: string): CodeBlock[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  let open: { fence: string; line: number; lang: string; body: string[] } | undefined;
  for (const [index, text] of lines.entries()) {
    if (open === undefined) {
      const fence = /^(`{3,}|~{3,})\s*([^`\s]*)/.exec(text);
      if (fence) open = { fence: fence[1]!, line: index + 1, lang: fence[2] ?? '', body: [] };
    } else if (text.trimEnd() === open.fence) {
      blocks.push({
        file: relative(root, path),
        line: open.line,
        lang: open.lang,
        code: open.body.join('\n'),
      });
      open = undefined;
    } else {
      open.body.push(text);
    }
  }
  if (open !== undefined) throw new Error(`${relative(root, path)}:${open.line}: code block never closed`);
  return blocks;
}

/** Relative links and images of a Markdown file: `[text](target)`, without the #fragment. */
export function relativeLinks(path: string): Array<{ readonly target: string; readonly line: number }> {
  const links: Array<{ target: string; line: number }> = [];
  let inCode = false;
  for (const [index, text] of readFileSync(path, 'utf8').split('\n').entries()) {
    if (/^(`{3,}|~{3,})/.test(text)) inCode = !inCode;
    if (inCode) continue;
    for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
      links.push({ target: target.replace(/#.*$/, ''), line: index + 1 });
    }
  }
  return links;
}

/**
 * What a runnable block says it prints: each `console.log(...)` line ends in a `// output` comment. Returns
 * undefined for a line that logs without saying what.
 */
export function expectedOutput(code: string): Array<string | undefined> {
  return code
    .split('\n')
    .filter((line) => /\bconsole\.log\(/.test(line))
    .map((line) => /\);\s*\/\/ (.*)$/.exec(line)?.[1]?.trimEnd());
}
