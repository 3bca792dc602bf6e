import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket, connect as tcpConnect } from 'node:net';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { classify } from '../../../src/dialects/classify.js';
import { type FaultProxy, startFaultProxy } from '../../../src/testing/index.js';
import { describeIfMariadb, describeIfPostgres, sharedServers } from '../../support/servers.js';
import { failure } from '../classify/drivers.js';

// The proxy between real drivers and the real servers: each toxic changes what the driver sees.

let proxy: FaultProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

async function pgThrough(p: FaultProxy, options: pg.ClientConfig = {}): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: `postgres://postgres@127.0.0.1:${p.port}/dbop`,
    ...options,
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

describeIfPostgres('FaultProxy with pg', () => {
  const port = (): number => sharedServers().postgres!.primary.port;

  it('forwards; latency delays every round trip by at least its value', async () => {
    proxy = await startFaultProxy({ targetPort: port() });
    const client = await pgThrough(proxy);
    expect((await client.query('SELECT 1 AS x')).rows).toEqual([{ x: 1 }]);
    proxy.set({ latencyMs: 400 });
    const started = performance.now();
    await client.query('SELECT 1');
    // A lower bound only: the delay is added on each direction, never removed by load.
    expect(performance.now() - started).toBeGreaterThanOrEqual(790);
    proxy.set({});
    expect((await client.query('SELECT 2 AS x')).rows).toEqual([{ x: 2 }]);
    await client.end();
  });

  it('stall: the connection stays open but nothing moves (a client timeout fires); lifting it resumes', async () => {
    proxy = await startFaultProxy({ targetPort: port() });
    const client = await pgThrough(proxy);
    proxy.set({ stall: true });
    const stalled = client.query({ text: 'SELECT 1 AS x', query_timeout: 300 } as pg.QueryConfig);
    expect(await failure(stalled)).toMatchObject({ message: 'Query read timeout' });
    expect(proxy.connections).toBe(1);
    // A new connection is accepted too, and hangs in its handshake.
    const hanging = failure(pgThrough(proxy, { connectionTimeoutMillis: 300 }));
    expect(await hanging).toMatchObject({ message: expect.stringMatching(/timeout/i) });
    proxy.set({});
    await client.end().catch(() => undefined);
  });

  it('holdRequests: the client bytes wait (heldBytes counts them) while the server still speaks', async () => {
    proxy = await startFaultProxy({ targetPort: port() });
    const client = await pgThrough(proxy);
    const pid = (client as unknown as { processID: number }).processID;
    proxy.set({ holdRequests: true });
    // Its failure is taken at once: the rejection comes while the test still awaits the admin connection.
    const held = failure(client.query('SELECT 1 AS x'));
    for (let i = 0; i < 250 && proxy.heldBytes === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(proxy.heldBytes).toBeGreaterThan(0);
    // The server never got the statement, yet its goodbye reaches the client: the query fails with it.
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port()}/dbop` });
    await admin.connect();
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await admin.end();
    expect(await held).toMatchObject({ code: '57P01', severity: 'FATAL' });
    proxy.set({});
    // Lifted, a new connection's bytes flow again.
    const next = await pgThrough(proxy);
    expect((await next.query('SELECT 2 AS x')).rows).toEqual([{ x: 2 }]);
    expect(proxy.heldBytes).toBe(0);
    await next.end();
  });

  it('reset: a TCP RST under a running statement is a lost connection', async () => {
    proxy = await startFaultProxy({ targetPort: port() });
    const client = await pgThrough(proxy);
    const running = failure(client.query('SELECT pg_sleep(5)'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    proxy.resetAll();
    const error = await running;
    expect(error).toMatchObject({ code: 'ECONNRESET' });
    expect(classify(error)).toMatchObject({ kind: 'connection-lost', retryable: true });
    expect(classify(error, { inFlight: 'commit' })).toMatchObject({ ambiguous: true });
  });

  it('closeAfterBytes cuts the connection mid-stream; refuse resets new connections', async () => {
    proxy = await startFaultProxy({ targetPort: port() });
    const client = await pgThrough(proxy);
    proxy.set({ closeAfterBytes: 0 });
    const error = await failure(client.query("SELECT repeat('x', 100000)"));
    expect(classify(error)).toMatchObject({ kind: 'connection-lost' });
    proxy.set({ refuse: true });
    expect(classify(await failure(pgThrough(proxy)), { dialect: 'postgres' })).toMatchObject({
      retryable: true,
    });
  });
});

describeIfMariadb('FaultProxy with mysql2', () => {
  it('stall holds the server greeting: connect times out; lifted, connections work; reset loses them', async () => {
    const maria = sharedServers().mariadb!;
    proxy = await startFaultProxy({ targetPort: maria.port });
    const options = { host: '127.0.0.1', port: proxy.port, user: 'root', password: 'dbop', database: 'dbop' };
    proxy.set({ stall: true });
    const refused = await failure(mysql.createConnection({ ...options, connectTimeout: 500 }));
    expect(refused).toMatchObject({ code: 'ETIMEDOUT' });
    proxy.set({});
    const connection = await mysql.createConnection(options);
    connection.on('error', () => {});
    expect((await connection.query('SELECT 1 AS x'))[0]).toEqual([{ x: 1 }]);
    const running = failure(connection.query('SELECT SLEEP(5)'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    proxy.resetAll();
    const error = await running;
    expect(classify(error, { dialect: 'mariadb' })).toMatchObject({
      kind: 'connection-lost',
      retryable: true,
    });
    connection.destroy();
  });
});

describe('FaultProxy on a plain TCP target', () => {
  // A target that records what reached it, so the test sees which bytes crossed the proxy.
  async function recordingTarget(): Promise<{
    port: number;
    received: () => string;
    close: () => Promise<void>;
  }> {
    const chunks: Buffer[] = [];
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return {
      port: (server.address() as AddressInfo).port,
      received: () => Buffer.concat(chunks).toString(),
      close: async () => {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  }

  async function openClient(port: number): Promise<{ socket: Socket; closed: Promise<unknown> }> {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.on('error', () => {});
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await once(socket, 'connect');
    return { socket, closed };
  }

  it('resetOn strikes when the text arrives split across TCP chunks, before the rest reaches the server', async () => {
    const target = await recordingTarget();
    proxy = await startFaultProxy({ targetPort: target.port, toxics: { resetOn: { text: 'COMMIT' } } });
    const { socket, closed } = await openClient(proxy.port);
    socket.write('SELECT 1; COM');
    expect(proxy.resetOnStrikes).toBe(0);
    // The first part is through before the second is written: two chunks at the proxy.
    await expect.poll(target.received, { timeout: 10_000 }).toBe('SELECT 1; COM');
    socket.write('MIT');
    const delivered = expect
      .poll(target.received, { timeout: 10_000 })
      .toBe('SELECT 1; COMMIT')
      .then(() => 'delivered');
    expect(await Promise.race([closed.then(() => 'reset'), delivered])).toBe('reset');
    expect(target.received()).toBe('SELECT 1; COM');
    // What a test checks to know its fault really happened.
    expect(proxy.resetOnStrikes).toBe(1);
    await target.close();
  });
});
