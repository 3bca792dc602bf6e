import { subscribe, unsubscribe } from 'node:diagnostics_channel';

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

/** pg's connection settings from a harness URL (trust auth: no password). */
export function pgConfig(url: string): Record<string, unknown> {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    database: parsed.pathname.slice(1),
  };
}

/** mysql2's and mariadb's connection settings from a harness URL. */
export function mysqlConfig(url: string): Record<string, unknown> {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    port: Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: parsed.pathname.slice(1),
  };
}
