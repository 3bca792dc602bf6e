import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** True when this process may switch to the postgres and mysql users. */
export const isRoot: boolean = process.getuid?.() === 0;

/** The argv that runs `command` as `user` when we are root, or as ourselves otherwise. */
export function asUser(user: string, command: string, args: readonly string[]): [string, string[]] {
  return isRoot ? ['runuser', ['-u', user, '--', command, ...args]] : [command, [...args]];
}

/** Runs a command to completion; rejects with its output when it fails. */
export function run(
  command: string,
  args: readonly string[],
  options: { user?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const [cmd, argv] = options.user === undefined ? [command, [...args]] : asUser(options.user, command, args);
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      argv,
      { timeout: options.timeoutMs ?? 120_000, env: options.env ?? process.env, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) {
          reject(
            new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`.trim()),
          );
        } else {
          resolve(stdout);
        }
      },
    );
  });
}

/** Starts a long-running daemon detached from us; returns its pid. */
export function spawnDaemon(command: string, args: readonly string[], user?: string): number {
  const [cmd, argv] = user === undefined ? [command, [...args]] : asUser(user, command, args);
  const child = spawn(cmd, argv, { detached: true, stdio: 'ignore' });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  return child.pid;
}

/**
 * Starts a long-running daemon detached from us with its output appended to `logFile`, as `user` when we
 * are root (through spawn's uid and gid, not runuser, so the pid returned is the daemon's own and a signal
 * sent to it reaches it).
 */
export async function spawnLogged(
  command: string,
  args: readonly string[],
  options: { logFile: string; user?: string; cwd?: string; env?: NodeJS.ProcessEnv },
): Promise<number> {
  const ids =
    options.user !== undefined && isRoot
      ? {
          uid: Number(await run('id', ['-u', options.user])),
          gid: Number(await run('id', ['-g', options.user])),
        }
      : {};
  const fd = openSync(options.logFile, 'a');
  try {
    const child = spawn(command, [...args], {
      detached: true,
      stdio: ['ignore', fd, fd],
      ...ids,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      env: options.env ?? process.env,
    });
    // A command that cannot start reports it here, and through the missing pid below.
    child.on('error', () => {});
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** A port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port. */
export async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await canConnect(port))) {
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Whether a TCP connection to 127.0.0.1:port succeeds now. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Whether a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits until the process is gone. */
export async function waitForExit(pid: number, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > until) throw new Error(`process ${pid} still running after ${timeoutMs} ms`);
    await sleep(25);
  }
}

/** A fresh directory under the system temp dir, owned by `user` when we are root. */
export async function tempDir(prefix: string, user?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  if (user !== undefined && isRoot) await run('chown', [user, dir]);
  return dir;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
