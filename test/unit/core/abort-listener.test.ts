import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { onAbort } from '../../../src/core/abort-listener.js';

describe('onAbort', () => {
  it('shares one listener per signal, calls each waiter once in order, and leaves none behind', () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const stops = ['a', 'b', 'c'].map((name) =>
      onAbort(controller.signal, (reason) => seen.push(`${name} ${reason}`)),
    );
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    stops[1]!();
    stops[1]!(); // stopping twice is harmless
    controller.abort('go');
    expect(seen).toEqual(['a go', 'c go']);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    for (const stop of stops) stop();
    // Nothing is called for a signal that already aborted, and nothing is added to it.
    expect(onAbort(controller.signal, () => seen.push('late'))).toBeTypeOf('function');
    expect(seen).toHaveLength(2);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('removes the listener when the last waiter stops, and the same callback twice waits twice', () => {
    const controller = new AbortController();
    let calls = 0;
    const count = (): void => {
      calls += 1;
    };
    const first = onAbort(controller.signal, count);
    const second = onAbort(controller.signal, count);
    first();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    second();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    onAbort(controller.signal, count);
    onAbort(controller.signal, count);
    controller.abort();
    expect(calls).toBe(2);
  });

  it('skips a waiter another one stopped during the abort, and a throwing one stops none of the rest', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown): void => {
      uncaught.push(error);
    };
    process.prependListener('uncaughtException', onUncaught);
    try {
      const boom = new Error('boom');
      onAbort(controller.signal, () => {
        seen.push('first');
        stopThird();
        throw boom;
      });
      onAbort(controller.signal, () => seen.push('second'));
      const stopThird = onAbort(controller.signal, () => seen.push('third'));
      controller.abort();
      expect(seen).toEqual(['first', 'second']);
      await new Promise((resolve) => setImmediate(resolve));
      expect(uncaught).toEqual([boom]);
    } finally {
      process.removeListener('uncaughtException', onUncaught);
    }
  });
});
