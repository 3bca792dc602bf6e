import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/** What the proxy does to traffic right now; change it at runtime with {@link FaultProxy.set}. */
export interface ProxyToxics {
  /** Delay added to every chunk, each direction, ms. */
  readonly latencyMs?: number;
  /** Half-open: connections stay up (new ones are still accepted) but nothing is forwarded. */
  readonly stall?: boolean;
  /**
   * The client's bytes are held back (the server's still flow) until lifted: what the client sent has not
   * reached the server, while whatever the server says meanwhile reaches the client.
   */
  readonly holdRequests?: boolean;
  /** Close each connection with a TCP RST after this many bytes (both directions counted). */
  readonly closeAfterBytes?: number;
  /** Refuse new connections: accept and reset at once. */
  readonly refuse?: boolean;
  /**
   * Reset the connection when the client sends bytes containing this text (a 'COMMIT', say): before they
   * reach the server (`deliver` false, the default), or after the server got them, its answer withheld
   * (`deliver` true: the statement ran, the client never hears how). Strikes once per toxic set.
   */
  readonly resetOn?: { readonly text: string; readonly deliver?: boolean };
}

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** Where to forward: the server's port on 127.0.0.1 (or `host`). */
  readonly targetPort: number;
  readonly targetHost?: string;
  /** The proxy's own port on 127.0.0.1; default 0 (a free one). */
  readonly port?: number;
  readonly toxics?: ProxyToxics;
}

interface Link {
  readonly client: Socket;
  readonly server: Socket;
  bytes: number;
  /** Set once the client's bytes matched resetOn with deliver: the server's answer is dropped. */
  muted: boolean;
  /** The client's last bytes, so that a resetOn text split across TCP chunks is still seen. */
  tail: Buffer;
}

/**
 * A TCP proxy on 127.0.0.1 between a driver and its server, toxiproxy-style, to make a real socket slow,
 * stall or break: tests of timeouts, keepalives and lost connections that need the network to misbehave,
 * not the server. Close it when done.
 * @example const proxy = await startFaultProxy({ targetPort: 5432 }); proxy.set({ stall: true });
 */
export class FaultProxy {
  readonly #server: Server;
  readonly #links = new Set<Link>();
  readonly #target: { readonly port: number; readonly host: string };
  #toxics: ProxyToxics;
  #port = 0;
  #struck = false;
  #strikes = 0;

  constructor(options: FaultProxyOptions) {
    checkPort('targetPort', options.targetPort);
    this.#target = { port: options.targetPort, host: options.targetHost ?? '127.0.0.1' };
    this.#toxics = checkToxics(options.toxics ?? {});
    this.#server = createServer((client) => this.#accept(client));
  }

  /** The port to point the driver at. */
  get port(): number {
    return this.#port;
  }

  /** How many connections go through the proxy now. */
  get connections(): number {
    return this.#links.size;
  }

  /** Client bytes held back by `holdRequests` (or a stall) and not yet forwarded, over all connections. */
  get heldBytes(): number {
    let held = 0;
    for (const link of this.#links) held += link.client.readableLength;
    return held;
  }

  /** How many times a `resetOn` toxic struck: a test checks it to know its fault really happened. */
  get resetOnStrikes(): number {
    return this.#strikes;
  }

  /** Replaces the toxics; a stall or hold lifted resumes forwarding what was held back. */
  set(toxics: ProxyToxics): void {
    const wasStalled = this.#toxics.stall === true;
    const wasHeld = this.#toxics.holdRequests === true;
    this.#toxics = checkToxics(toxics);
    this.#struck = false;
    for (const link of this.#links) {
      if ((wasStalled || wasHeld) && toxics.stall !== true && toxics.holdRequests !== true)
        link.client.resume();
      if (wasStalled && toxics.stall !== true) link.server.resume();
    }
  }

  /** Resets every open connection with a TCP RST, as a dropped route or a killed peer does. */
  resetAll(): void {
    for (const link of [...this.#links]) this.#reset(link);
  }

  /** Closes every open connection with a FIN to the client, as a server that goes away cleanly does. */
  endAll(): void {
    for (const link of [...this.#links]) {
      this.#links.delete(link);
      link.server.destroy();
      link.client.end();
    }
  }

  async listen(port = 0): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const address = this.#server.address();
    this.#port = typeof address === 'object' && address !== null ? address.port : port;
    return this;
  }

  /** Stops listening and resets every connection. */
  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#toxics.refuse === true) {
      client.resetAndDestroy();
      return;
    }
    const server = tcpConnect(this.#target.port, this.#target.host);
    const link: Link = { client, server, bytes: 0, muted: false, tail: Buffer.alloc(0) };
    this.#links.add(link);
    const end = (): void => {
      if (!this.#links.delete(link)) return;
      client.destroy();
      server.destroy();
    };
    for (const socket of [client, server]) {
      socket.setNoDelay(true);
      socket.on('error', end);
      socket.on('close', end);
    }
    this.#pipe(link, client, server);
    this.#pipe(link, server, client);
  }

  #pipe(link: Link, from: Socket, to: Socket): void {
    // Delayed chunks keep their order even when the latency is lowered in between.
    let due = 0;
    from.on('data', (chunk: Buffer) => {
      if (this.#toxics.stall === true || (from === link.client && this.#toxics.holdRequests === true)) {
        // Half-open: the bytes are held, nothing is acknowledged at the application level.
        from.pause();
        from.unshift(chunk);
        return;
      }
      if (link.muted) return;
      if (from === link.client && this.#resetOn(link, chunk, to)) return;
      link.bytes += chunk.length;
      const limit = this.#toxics.closeAfterBytes;
      if (limit !== undefined && link.bytes > limit) {
        const allowed = chunk.length - (link.bytes - limit);
        if (allowed > 0) to.write(chunk.subarray(0, allowed));
        this.#reset(link);
        return;
      }
      const delay = this.#toxics.latencyMs ?? 0;
      if (delay <= 0) {
        to.write(chunk);
        return;
      }
      due = Math.max(Date.now() + delay, due);
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, due - Date.now());
    });
    from.on('end', () => to.end());
  }

  /** Applies resetOn to a client chunk; true when it struck. */
  #resetOn(link: Link, chunk: Buffer, to: Socket): boolean {
    const trigger = this.#toxics.resetOn;
    if (trigger === undefined || this.#struck) return false;
    const seen = Buffer.concat([link.tail, chunk]);
    if (!seen.includes(trigger.text)) {
      link.tail = seen.subarray(Math.max(0, seen.length - Buffer.byteLength(trigger.text) + 1));
      return false;
    }
    link.tail = Buffer.alloc(0);
    this.#struck = true;
    this.#strikes += 1;
    if (trigger.deliver !== true) {
      this.#reset(link);
      return true;
    }
    link.muted = true;
    to.write(chunk);
    // Whatever the server answers is dropped; once it had time to act on the bytes, the connection goes.
    link.server.once('data', () => this.#reset(link));
    setTimeout(() => this.#reset(link), 2000).unref();
    return true;
  }

  #reset(link: Link): void {
    this.#links.delete(link);
    link.client.resetAndDestroy();
    link.server.resetAndDestroy();
  }
}

/** Starts a {@link FaultProxy} listening on 127.0.0.1. */
export function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  return new FaultProxy(options).listen(options.port ?? 0);
}

function checkPort(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw new TypeError(`Expected \`${name}\` to be a port number, got ${String(value)}`);
  }
}

function checkToxics(toxics: ProxyToxics): ProxyToxics {
  for (const key of Object.keys(toxics)) {
    if (!['latencyMs', 'stall', 'holdRequests', 'closeAfterBytes', 'refuse', 'resetOn'].includes(key)) {
      throw new TypeError(
        `Unknown toxic \`${key}\`; known: latencyMs, stall, holdRequests, closeAfterBytes, refuse, resetOn`,
      );
    }
  }
  for (const key of ['latencyMs', 'closeAfterBytes'] as const) {
    const value = toxics[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw new TypeError(`Expected \`${key}\` to be a non-negative integer, got ${String(value)}`);
    }
  }
  const trigger = toxics.resetOn;
  if (trigger !== undefined && (typeof trigger.text !== 'string' || trigger.text.length === 0)) {
    throw new TypeError('Expected `resetOn.text` to be a non-empty string');
  }
  return Object.freeze({ ...toxics });
}
