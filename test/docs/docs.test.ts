import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeIfMariadb, describeIfPostgres, mariadbUrl, postgresUrl } from '../support/servers.js';
import {
  type CodeBlock,
  codeBlocks,
  documentationFiles,
  expectedOutput,
  relativeLinks,
} from './code-blocks.js';

// README.md and docs/*.md as a product: every ```ts block is a complete program that compiles under the
// project's strict tsconfig, importing 'dbop', 'dbop/pg', ... as a user would (mapped to src/ here); every
// block that reads DATABASE_URL also runs, against SQLite (its own default), PostgreSQL, and MariaDB through
// mysql:// and mariadb:// (a block that imports a PostgreSQL driver runs on PostgreSQL only), and prints
// what its comments say. PGlite is left out: each run would start it anew, 6 to 30 s on a loaded machine.

const root = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const packageJson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  readonly files: readonly string[];
  readonly exports: Readonly<Record<string, string | { readonly types?: string }>>;
};

const blocks = documentationFiles(root).flatMap((file) => codeBlocks(root, file));
const typescript = blocks.filter((block) => block.lang === 'ts');
const runnable = typescript.filter((block) => block.code.includes('process.env.DATABASE_URL'));

/** The generated file of a block: README.md line 60 is `README-md-60.ts`. */
const fileOf = (block: CodeBlock): string => `${block.file.replace(/[^A-Za-z0-9]+/g, '-')}-${block.line}.ts`;
const where = (block: CodeBlock): string => `${block.file}:${block.line}`;

/** 'dbop' and its subpaths, from package.json exports, mapped from dist/*.d.ts to src/*.ts. */
function importPaths(): Record<string, string[]> {
  const paths: Record<string, string[]> = {};
  for (const [key, target] of Object.entries(packageJson.exports)) {
    const types = typeof target === 'string' ? undefined : target.types;
    if (types === undefined) continue;
    const source = types.replace(/^\.\/dist\//, 'src/').replace(/\.d\.ts$/, '.ts');
    paths[key === '.' ? 'dbop' : `dbop/${key.slice(2)}`] = [join(root, source)];
  }
  return paths;
}

let work: string;

beforeAll(() => {
  mkdirSync(join(root, '.docs-blocks'), { recursive: true });
  // Inside the repository, so that 'pg', tsx and @types/node resolve from its node_modules, and the
  // package.json's "type": "module" makes every block an ES module (top-level await).
  work = mkdtempSync(join(root, '.docs-blocks', 'run-'));
  for (const block of typescript) writeFileSync(join(work, fileOf(block)), `${block.code}\nexport {};\n`);
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify({
      extends: relative(work, join(root, 'tsconfig.json')).split(sep).join('/'),
      compilerOptions: { noEmit: true, paths: importPaths() },
      include: ['*.ts'],
    }),
  );
});

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('README.md and docs/*.md', () => {
  it('have TypeScript blocks fenced as ```ts, and the README runs all of its own', () => {
    const other = blocks.filter((block) => /^(typescript|tsx?|js|javascript|mjs)$/i.test(block.lang));
    expect(other.filter((block) => block.lang !== 'ts').map(where)).toEqual([]);
    const readme = typescript.filter((block) => block.file === 'README.md');
    expect(readme.length).toBeGreaterThan(0);
    expect(readme.filter((block) => !runnable.includes(block)).map(where)).toEqual([]);
  });

  it('every ```ts block compiles under the strict tsconfig, importing dbop as a user would', async () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', join(work, 'tsconfig.json')], {
      cwd: work,
    }).then(
      () => ({ output: '' }),
      (error: { stdout?: string; message: string }) => ({ output: error.stdout || error.message }),
    );
    // Errors point at the Markdown line: README-md-60.ts(3,5) is README.md line 63.
    const byBlock = new Map(typescript.map((block) => [fileOf(block), block]));
    const errors = result.output.replace(/([\w-]+\.ts)\((\d+),(\d+)\)/g, (text, file, line, column) => {
      const block = byBlock.get(file);
      return block === undefined ? text : `${block.file}:${block.line + Number(line)}:${column}`;
    });
    expect(errors).toBe('');
  }, 300_000);

  it('link only to files inside the repository that the npm package ships', () => {
    const shipped = packageJson.files.filter((entry) => !entry.startsWith('!'));
    const always = ['README.md', 'LICENSE', 'package.json'];
    const problems: string[] = [];
    for (const file of documentationFiles(root)) {
      for (const { target, line } of relativeLinks(file)) {
        const path = relative(root, resolve(dirname(file), decodeURIComponent(target)));
        const at = `${relative(root, file)}:${line} -> ${target}`;
        if (path.startsWith('..')) problems.push(`${at}: outside the repository`);
        else if (!existsSync(join(root, path))) problems.push(`${at}: no such file`);
        else if (
          !always.includes(path) &&
          !shipped.some((entry) => path === entry || path.startsWith(`${entry}/`))
        )
          problems.push(`${at}: not in package.json "files"`);
      }
    }
    expect(problems).toEqual([]);
  });
});

/** Runs one block with DATABASE_URL (or none) and checks what it printed against its comments. */
async function runBlock(block: CodeBlock, url: string | undefined): Promise<void> {
  const cwd = mkdtempSync(join(work, 'cwd-'));
  const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: url, NO_COLOR: '1' };
  if (url === undefined) delete env.DATABASE_URL;
  const result = await run(process.execPath, ['--import', 'tsx', join(work, fileOf(block))], {
    cwd,
    env: { ...env, TSX_TSCONFIG_PATH: join(work, 'tsconfig.json') },
    timeout: 120_000,
  }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(
      `${where(block)} failed on ${url ?? 'no DATABASE_URL'}:\n${error.stderr || error.message}`,
    );
  });
  const expected = expectedOutput(block.code);
  expect(
    expected,
    `${where(block)}: every console.log line ends in a "// what it prints" comment`,
  ).not.toContain(undefined);
  expect(result.stdout.trimEnd().split('\n')).toEqual(expected);
}

/** A block that imports a driver package runs on that driver's server only. */
function needsPostgresDriver(block: CodeBlock): boolean {
  return /from '(pg|postgres|dbop\/pg|dbop\/postgres-js)'/.test(block.code);
}

describe('the runnable blocks, on SQLite', () => {
  for (const block of runnable.filter((block) => !needsPostgresDriver(block))) {
    it(`${where(block)} on SQLite (no DATABASE_URL: the block's own default)`, () =>
      runBlock(block, undefined));
  }
});

/** A private database on a shared server, so the blocks' tables meet no other test's. */
const database = `dbop_docs_${process.pid}_${Date.now().toString(36)}`;
const withDatabase = (url: string): string => url.replace(/\/[^/?]*(\?.*)?$/, `/${database}$1`);

describeIfPostgres('the runnable blocks, on PostgreSQL', () => {
  beforeAll(async () => {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: postgresUrl() });
    await client.connect();
    await client.query(`CREATE DATABASE ${database}`).finally(() => client.end());
  });
  afterAll(async () => {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: postgresUrl() });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).finally(() => client.end());
  });

  for (const block of runnable) {
    it(`${where(block)} on PostgreSQL`, () => runBlock(block, withDatabase(postgresUrl())));
  }
});

describeIfMariadb('the runnable blocks, on MariaDB through mysql2 and through the mariadb connector', () => {
  beforeAll(async () => {
    const mysql = await import('mysql2/promise');
    const connection = await mysql.createConnection(mariadbUrl());
    await connection.query(`CREATE DATABASE ${database}`).finally(() => connection.end());
  });
  afterAll(async () => {
    const mysql = await import('mysql2/promise');
    const connection = await mysql.createConnection(mariadbUrl());
    await connection.query(`DROP DATABASE IF EXISTS ${database}`).finally(() => connection.end());
  });

  for (const block of runnable.filter((block) => !needsPostgresDriver(block))) {
    it(`${where(block)} on mysql://`, () => runBlock(block, withDatabase(mariadbUrl())));
    it(`${where(block)} on mariadb://`, () =>
      runBlock(block, withDatabase(mariadbUrl()).replace(/^mysql:/, 'mariadb:')));
  }
});
