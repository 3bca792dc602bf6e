import fc from 'fast-check';

/** A password with a recognisable 8-character core; `core` is what must never appear in any output. */
export interface SecretUrl {
  readonly url: string;
  readonly core: string;
  readonly shape: string;
}

const alnum = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789'.split('');
const special = [
  '/',
  '?',
  '#',
  '@',
  ':',
  '%',
  '&',
  '=',
  ' ',
  '!',
  'é',
  '+',
  ',',
  '[',
  ']',
  '%4',
  '%zz',
  '😀',
];

/** A password: random special characters around a random alphanumeric core. */
export const secretArbitrary: fc.Arbitrary<{ password: string; core: string }> = fc
  .record({
    core: fc.string({ unit: fc.constantFrom(...alnum), minLength: 8, maxLength: 8 }),
    before: fc.array(fc.constantFrom(...special), { maxLength: 3 }),
    after: fc.array(fc.constantFrom(...special), { maxLength: 3 }),
  })
  .map(({ core, before, after }) => ({ core, password: `${before.join('')}${core}${after.join('')}` }));

/** Every shape of bad (or odd) URL issue 10's fuzzer found leaking, with the password wrapped in. */
const shapes: ReadonlyArray<readonly [string, (password: string, core: string) => string]> = [
  ['valid', (p) => `postgres://u:${p}@127.0.0.1:5432/db`],
  ['valid mysql', (p) => `mysql://root:${p}@127.0.0.1:3306/db?charset=utf8mb4`],
  ['valid, encoded', (p) => `postgres://u:${encodeURIComponent(p)}@127.0.0.1:5432/db?application_name=x`],
  ['valid mariadb, encoded', (p) => `mariadb://u:${encodeURIComponent(p)}@127.0.0.1:3306/db`],
  ['valid mysql, encoded', (p) => `mysql://u:${encodeURIComponent(p)}@127.0.0.1:3306/db`],
  ['user with @', (p) => `postgres://us@er:${p}@127.0.0.1:5432/postgres`],
  ['missing scheme', (p) => `u:${p}@127.0.0.1:5432/db`],
  ['missing scheme, slashes', (p) => `//u:${p}@127.0.0.1/db`],
  ['scheme without colon', (p) => `postgres//u:${p}@127.0.0.1/db`],
  ['one slash', (p) => `postgres:/u:${p}@127.0.0.1/db`],
  ['no slash', (p) => `mysql:u:${p}@127.0.0.1/db`],
  ['password as scheme', (_p, core) => `${core}:x@127.0.0.1/db`],
  ['unknown scheme', (p) => `oracle://u:${p}@h/db`],
  ['bad port', (p) => `postgres://us/er:${p}@127.0.0.1:99999/db`],
  ['port with letters', (p) => `mariadb://u:${p}@127.0.0.1:54x2/db`],
  ['negative port', (p) => `postgres://u:${p}@h:-1/db`],
  ['bad percent-encoding', (p) => `mariadb://us er:${p}%@127.0.0.1/db`],
  ['bad percent in user', (p) => `postgres://u%zz:${p}@h/db`],
  ['truncated escape', (p) => `mysql://u:${p}%E0%A4%A@h/db`],
  ['missing host', (p) => `postgres://u:${p}@/db`],
  ['missing host, port', (p) => `postgres://u:${p}@:5432/db`],
  ['empty host in list', (p) => `postgres://u:${p}@h1,,h2/db`],
  ['bad host', (p) => `postgres://u:${p}@h o/db`],
  ['bad ipv6', (p) => `postgres://u:${p}@[zz]:1/db`],
  ['control character', (p) => `postgres://u:${p}\n@h/db`],
  ['query password', (p) => `postgres://u@h/db?password=${p}`],
  ['query encoded password', (p) => `mysql://u@h/db?pass%77ord=${p}`],
  ['query sslpassword', (p) => `postgres://u@h/db?sslmode=require&sslpassword=${p}`],
  ['query PWD', (p) => `mariadb://u@h/db?a=1&PWD=${p}`],
  ['query %70assword', (p) => `postgres://u@h/db?%70assword=${p}`],
  ['unsupported parameter', (p) => `mysql://u:${p}@h/db?multipleStatements=true`],
  ['too long', (p) => `postgres://u:${p}@h/${'x'.repeat(9000)}`],
  ['two hosts', (p) => `postgres://u:${p}@h1:5432,h2:5433/db`],
];

/** A URL of one of the shapes, with a random password in it. */
export const secretUrlArbitrary: fc.Arbitrary<SecretUrl> = fc
  .tuple(fc.constantFrom(...shapes), secretArbitrary)
  .map(([[shape, make], { password, core }]) => ({ url: make(password, core), core, shape }));

/** A fixed sample of the corpus (seeded), for the slower end-to-end checks. */
export function secretUrlSample(count: number): SecretUrl[] {
  return fc.sample(secretUrlArbitrary, { numRuns: count, seed: 10 });
}

/** `perShape` URLs of every shape (seeded), so an end-to-end check covers each one. */
export function secretUrlsByShape(perShape: number): SecretUrl[] {
  const secrets = fc.sample(secretArbitrary, { numRuns: perShape * shapes.length, seed: 10 });
  return shapes.flatMap(([shape, make], index) =>
    secrets
      .slice(index * perShape, (index + 1) * perShape)
      .map(({ password, core }) => ({ url: make(password, core), core, shape })),
  );
}
