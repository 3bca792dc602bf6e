import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { mysqlOptions } from '../classify/drivers.js';

/** Collects a channel's messages until stop(). */
export function collect<T>(name: string): { readonly messages: T[]; stop(): void } {
  const messages: T[] = [];
  const listener = (message: unknown): void => {
    messages.push(message as T);
  };
  subscribe(name, listener);
  return { messages, stop: () => unsubscribe(name, listener) };
}

/** Waits until `check` holds, polling; fails after `limitMs` (generous: the machine is loaded). */
export async function until(check: () => boolean | Promise<boolean>, limitMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > limitMs) throw new Error(`condition not met within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** pg's, mysql2's and mariadb's connection settings from a harness URL (pg with trust auth ignores the password). */
export const connectionSettings: (url: string) => Record<string, unknown> = mysqlOptions;
