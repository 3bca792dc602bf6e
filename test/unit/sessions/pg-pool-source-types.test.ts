import type pg from 'pg';
import { describe, expectTypeOf, it } from 'vitest';
import type { Session, SessionSource } from '../../../src/core/session.js';
import { DbOpRunner } from '../../../src/runner/dbop-runner.js';
import { pgPoolSource } from '../../../src/sessions/pg/index.js';

// A type-level test: `npm run typecheck` compiles it against the real pg types (the TS2345).
describe('pgPoolSource types', () => {
  it("is generic over the pool's client type, so a step can take Session<pg.PoolClient>", () => {
    const typed = (pool: pg.Pool): SessionSource<pg.PoolClient> => pgPoolSource(pool);
    expectTypeOf(typed).returns.toEqualTypeOf<SessionSource<pg.PoolClient>>();
    const step = async (session: Session<pg.PoolClient>): Promise<number> => {
      session.raw.release satisfies (destroy?: boolean | Error) => void;
      return 1;
    };
    const run = (pool: pg.Pool): Promise<number> => new DbOpRunner().transaction(pgPoolSource(pool), step);
    expectTypeOf(run).returns.resolves.toEqualTypeOf<number>();
  });
});
