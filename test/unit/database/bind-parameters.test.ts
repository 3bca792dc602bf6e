import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isDbopError } from '../../../src/core/errors.js';
import { bindParameters, type ParameterDialect } from '../../../src/database/bind-parameters.js';

describe('bindParameters: table', () => {
  const cases: Array<[string, ParameterDialect, string, Record<string, unknown>, string, unknown[]]> = [
    ['postgres numbering', 'postgres', 'SELECT :a, :b', { a: 1, b: 2 }, 'SELECT $1, $2', [1, 2]],
    [
      'postgres reuses the number of a repeated name',
      'postgres',
      ':a + :b + :a',
      { a: 1, b: 2 },
      '$1 + $2 + $1',
      [1, 2],
    ],
    ['mysql repeats the value', 'mysql', ':a + :b + :a', { a: 1, b: 2 }, '? + ? + ?', [1, 2, 1]],
    ['sqlite uses ?', 'sqlite', 'WHERE id = :id', { id: 7 }, 'WHERE id = ?', [7]],
    ['::cast after a parameter', 'postgres', 'SELECT :v::int', { v: '5' }, 'SELECT $1::int', ['5']],
    ['::cast alone', 'postgres', "SELECT '1'::text, now()::date", {}, "SELECT '1'::text, now()::date", []],
    ['string literal', 'postgres', "SELECT ':a', :a", { a: 1 }, "SELECT ':a', $1", [1]],
    ["'' escape", 'sqlite', "SELECT 'it''s :a', :a", { a: 1 }, "SELECT 'it''s :a', ?", [1]],
    ['mysql backslash escape', 'mysql', "SELECT 'x\\' :a', :b", { b: 2 }, "SELECT 'x\\' :a', ?", [2]],
    [
      'postgres standard string keeps backslash',
      'postgres',
      "SELECT 'x\\', :b",
      { b: 2 },
      "SELECT 'x\\', $1",
      [2],
    ],
    ['postgres E string', 'postgres', "SELECT E'x\\' :a', :b", { b: 2 }, "SELECT E'x\\' :a', $1", [2]],
    [
      'quoted identifier',
      'postgres',
      'SELECT "a:b" FROM t WHERE x = :x',
      { x: 1 },
      'SELECT "a:b" FROM t WHERE x = $1',
      [1],
    ],
    [
      'mysql backtick',
      'mysql',
      'SELECT `a:b` FROM t WHERE x = :x',
      { x: 1 },
      'SELECT `a:b` FROM t WHERE x = ?',
      [1],
    ],
    ['line comment', 'postgres', 'SELECT :a -- :b\n, :c', { a: 1, c: 3 }, 'SELECT $1 -- :b\n, $2', [1, 3]],
    ['mysql # comment', 'mysql', 'SELECT :a # :b\n', { a: 1 }, 'SELECT ? # :b\n', [1]],
    ['block comment', 'sqlite', 'SELECT /* :b */ :a', { a: 1 }, 'SELECT /* :b */ ?', [1]],
    [
      'nested block comment (postgres)',
      'postgres',
      '/* x /* :b */ :c */ :a',
      { a: 1 },
      '/* x /* :b */ :c */ $1',
      [1],
    ],
    [
      'dollar quote',
      'postgres',
      'DO $$ BEGIN :x; END $$; SELECT :a',
      { a: 1 },
      'DO $$ BEGIN :x; END $$; SELECT $1',
      [1],
    ],
    ['tagged dollar quote', 'postgres', '$fn$ :x $$ :y $fn$ :a', { a: 1 }, '$fn$ :x $$ :y $fn$ $1', [1]],
    ['mysql := is not a parameter', 'mysql', 'SET @x := :a', { a: 1 }, 'SET @x := ?', [1]],
    [
      'time literal digits',
      'postgres',
      "SELECT '10:30'::time, :a",
      { a: 1 },
      "SELECT '10:30'::time, $1",
      [1],
    ],
    [
      'postgres ? operator is left alone',
      'postgres',
      "SELECT data ? 'k' FROM t WHERE id = :id",
      { id: 1 },
      "SELECT data ? 'k' FROM t WHERE id = $1",
      [1],
    ],
    ['undefined value is still a value', 'sqlite', ':a', { a: undefined }, '?', [undefined]],
  ];
  for (const [name, dialect, sql, params, expectedSql, expectedValues] of cases) {
    it(name, () => {
      expect(bindParameters(sql, params, dialect)).toEqual({ sql: expectedSql, values: expectedValues });
    });
  }

  it('passes positional values through unchanged', () => {
    expect(bindParameters('SELECT $1, $2', [1, 2], 'postgres')).toEqual({
      sql: 'SELECT $1, $2',
      values: [1, 2],
    });
    expect(bindParameters('SELECT ?', ['x'], 'mysql')).toEqual({ sql: 'SELECT ?', values: ['x'] });
    expect(bindParameters('SELECT 1', undefined, 'sqlite')).toEqual({ sql: 'SELECT 1', values: [] });
  });

  it('names the missing parameter', () => {
    expect(() => bindParameters('SELECT :a, :missing', { a: 1 }, 'postgres')).toThrow(
      'Missing value for named parameter :missing',
    );
    expect(() => bindParameters('SELECT :a', undefined, 'mysql')).toThrow(
      'Missing value for named parameter :a',
    );
    try {
      bindParameters('SELECT :a', {}, 'sqlite');
    } catch (error) {
      expect(isDbopError(error, 'DBOP_BAD_PARAMETERS')).toBe(true);
    }
  });

  it('refuses to mix named and positional placeholders', () => {
    expect(() => bindParameters('SELECT :a, $1', { a: 1 }, 'postgres')).toThrow(
      /mixes named \(:a\) and positional \(\$1\)/,
    );
    expect(() => bindParameters('SELECT :a, ?', { a: 1 }, 'mysql')).toThrow(/mixes named/);
    expect(() => bindParameters('SELECT ?', { a: 1 }, 'sqlite')).toThrow(
      /positional placeholder \? but named values/,
    );
    expect(() => bindParameters('SELECT :a', [1], 'postgres')).toThrow(
      /named parameter :a but positional values/,
    );
  });

  it('ignores inherited properties: a name must be the object own key', () => {
    expect(() => bindParameters('SELECT :toString', {}, 'postgres')).toThrow(
      'Missing value for named parameter :toString',
    );
  });
});

// SQL assembled from pieces whose translation is known: the translation of the whole must be the
// concatenation, and the values must follow the parameters in order.
type Piece = { readonly sql: string; readonly param?: string };

const name = fc.constantFrom('a', 'b', 'id', 'user_id', 'x1');
const inert = (dialect: ParameterDialect): fc.Arbitrary<string> => {
  const common: fc.Arbitrary<string>[] = [
    fc.constantFrom(' ', ', ', ' = ', 'SELECT ', ' FROM t ', '(', ')', '1', "'x'", '42'),
    fc.constantFrom("':a'", "'it''s :b'", "'::'", "''"),
    fc.constantFrom('"col:a"', '"q""uote :b"'),
    fc.constantFrom('-- :a comment\n', '/* :b */', '/* ::x */'),
    fc.constantFrom('::int', '::text[]', ' ::date'),
  ];
  if (dialect === 'postgres')
    common.push(fc.constantFrom('$$ :a $$', '$t$ :b $$ $t$', "E'\\' :a'", '/* /* :a */ :b */'));
  if (dialect === 'mysql') common.push(fc.constantFrom("'\\' :a'", '`c:a`', '# :a\n', ' := '));
  if (dialect === 'sqlite') common.push(fc.constantFrom('`c:a`', '[c_a]'));
  return fc.oneof(...common);
};
const pieces = (dialect: ParameterDialect): fc.Arbitrary<Piece[]> =>
  fc.array(
    fc.oneof(
      inert(dialect).map((sql) => ({ sql })),
      name.map((param) => ({ sql: `:${param}`, param })),
    ),
    { maxLength: 25 },
  );

describe('bindParameters: properties', () => {
  for (const dialect of ['postgres', 'mysql', 'sqlite'] as const) {
    it(`${dialect}: parameters become placeholders in order, everything else is unchanged`, () => {
      fc.assert(
        fc.property(pieces(dialect), fc.dictionary(name, fc.integer()), (parts, given) => {
          const params = Object.fromEntries(
            ['a', 'b', 'id', 'user_id', 'x1'].map((n) => [n, given[n] ?? n.length]),
          );
          // Pieces glued together could read as one longer token (a name, int$$): separate with a space.
          const sql = parts.map((part) => `${part.sql} `).join('');
          const bound = bindParameters(sql, params, dialect);
          const numbers = new Map<string, number>();
          let expectedSql = '';
          const expectedValues: unknown[] = [];
          for (const part of parts) {
            if (part.param === undefined) {
              expectedSql += `${part.sql} `;
              continue;
            }
            if (dialect === 'postgres') {
              if (!numbers.has(part.param)) {
                expectedValues.push(params[part.param]);
                numbers.set(part.param, expectedValues.length);
              }
              expectedSql += `$${numbers.get(part.param)} `;
            } else {
              expectedValues.push(params[part.param]);
              expectedSql += '? ';
            }
          }
          expect(bound).toEqual({ sql: expectedSql, values: expectedValues });
        }),
        { numRuns: 400 },
      );
    });
  }

  it('never throws on arbitrary text with no named parameters given as positional', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 60 }).filter((s) => !/:[A-Za-z_]/.test(s)),
        (sql) => {
          expect(bindParameters(sql, [], 'postgres').sql).toBe(sql);
        },
      ),
    );
  });
});

describe('bindParameters: the same statement again', () => {
  it('binds each call with its own values, and a statement once refused is refused again', () => {
    const sql = 'UPDATE account SET balance = balance - :amount WHERE id = :id';
    for (const [id, amount] of [
      [1, 10],
      [2, 20],
    ]) {
      expect(bindParameters(sql, { id, amount }, 'postgres')).toEqual({
        sql: 'UPDATE account SET balance = balance - $1 WHERE id = $2',
        values: [amount, id],
      });
      expect(bindParameters(sql, { id, amount }, 'mysql')).toEqual({
        sql: 'UPDATE account SET balance = balance - ? WHERE id = ?',
        values: [amount, id],
      });
    }
    expect(() => bindParameters(sql, { id: 1 }, 'sqlite')).toThrow(
      'Missing value for named parameter :amount',
    );
    expect(() => bindParameters(sql, { id: 1 }, 'sqlite')).toThrow(
      'Missing value for named parameter :amount',
    );
  });

  it('reads one text by each dialect own rules, whatever was read before', () => {
    const sql = "SELECT '\\' AS a, :x AS b";
    // MySQL reads \' as an escaped quote: :x is inside the string. SQLite does not: :x is a parameter.
    expect(bindParameters(sql, { x: 1 }, 'sqlite')).toEqual({ sql: "SELECT '\\' AS a, ? AS b", values: [1] });
    expect(bindParameters(sql, [], 'mysql')).toEqual({ sql, values: [] });
    expect(bindParameters(sql, { x: 1 }, 'sqlite').values).toEqual([1]);
  });
});
