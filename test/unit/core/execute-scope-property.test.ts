import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttemptContext } from '../../../src/core/attempt.js';
import { execute } from '../../../src/core/execute.js';
import { FakeClock } from './fake-clock.js';
import { hang, recordingScope, TransientError } from './helpers.js';

/** What one attempt's op does. */
type Step = 'succeed' | 'throw' | 'hang' | 'abort' | 'slow-then-throw';
/** What the scope's steps do on that attempt. */
type ScopeStep = 'ok' | 'begin-hangs' | 'commit-fails' | 'rollback-slow';

describe('execute: no attempt ever leaves its scope open (property)', () => {
  it('every begun scope is committed or rolled back, timeouts and aborts included, before the next begin', async () => {
    const steps = fc.array(fc.constantFrom<Step>('succeed', 'throw', 'hang', 'abort', 'slow-then-throw'), {
      minLength: 1,
      maxLength: 6,
    });
    const scopeSteps = fc.array(
      fc.constantFrom<ScopeStep>('ok', 'begin-hangs', 'commit-fails', 'rollback-slow'),
      {
        minLength: 6,
        maxLength: 6,
      },
    );
    await fc.assert(
      fc.asyncProperty(steps, scopeSteps, async (plan, scopePlan) => {
        const clock = new FakeClock(0);
        const controller = new AbortController();
        const at = (c: AttemptContext): ScopeStep => scopePlan[c.attempt - 1] ?? 'ok';
        const openAtBegin: number[] = [];
        const scope = recordingScope({
          begin: (c) => {
            openAtBegin.push(scope.open() - 1);
            return at(c) === 'begin-hangs' ? hang() : undefined;
          },
          commit: (c) =>
            at(c) === 'commit-fails' ? Promise.reject(new TransientError('commit')) : undefined,
          rollback: (c) =>
            at(c) === 'rollback-slow'
              ? new Promise<void>((resolve) => clock.setTimeout(() => resolve(), 5))
              : undefined,
        });
        const op = (c: AttemptContext): unknown => {
          switch (plan[c.attempt - 1] ?? 'succeed') {
            case 'succeed':
              return c.attempt;
            case 'throw':
              throw new TransientError('op');
            case 'hang':
              return hang();
            case 'abort':
              clock.setTimeout(() => controller.abort(new Error('caller aborted')), 1);
              return hang();
            case 'slow-then-throw':
              return new Promise((_, reject) =>
                clock.setTimeout(() => reject(new TransientError('slow')), 30),
              );
          }
        };
        const result = execute(op, {
          clock,
          scope: scope.factory,
          attemptTimeoutMs: 20,
          signal: controller.signal,
          policy: { maxRetries: 5, initialDelayMs: 10, maxDelayMs: 10, jitter: 'none' },
        });
        await clock.settle(result).catch(() => {});
        expect(scope.open()).toBe(0);
        expect(openAtBegin.every((n) => n === 0)).toBe(true);
        const begins = scope.log.filter((line) => line.startsWith('begin')).length;
        const rollbacks = scope.log.filter((line) => line.startsWith('rollback')).length;
        const commitsOk = begins - rollbacks;
        expect(commitsOk).toBeLessThanOrEqual(1);
        for (const line of scope.log.filter((l) => l.startsWith('rollback'))) {
          expect(line).toMatch(/^rollback \d (TransientError|AttemptTimeoutError|Error)$/);
        }
      }),
      { numRuns: 200 },
    );
  });
});
