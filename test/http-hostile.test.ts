/**
 * recv --http facing hostile clients: huge headers, slowloris, garbage, a flood of
 * connections. Each is answered or cut, within the limits, and the viewer goes on serving.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { stopAll, vstream } from './helpers/process.js';
import { fetchBody, rawExchange, startHttpViewer } from './helpers/mjpeg-http.js';

afterEach(async () => {
  await stopAll();
});

function statusLine(answer: string): string {
  return answer.split('\r\n', 1)[0]!;
}

/** A socket that sent `request` and has read the first bytes of the answer. */
async function held(port: number, request: string): Promise<{ socket: Socket; first: string }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(request);
  const [chunk] = (await once(socket, 'data')) as [Buffer];
  return { socket, first: chunk.toString('latin1') };
}

async function stillServes(base: string): Promise<void> {
  const answer = await fetchBody(`${base}/streams.json`);
  expect(answer.status).toBe(200);
}

describe('recv --http with hostile clients', () => {
  it('answers a huge header with 431, garbage with 400, a request with a body it ignores, and goes on', async () => {
    const { recv, base, httpPort } = await startHttpViewer();
    const huge = await rawExchange(httpPort, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(12 * 1024)}\r\n\r\n`);
    expect(statusLine(huge)).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    const many = await rawExchange(httpPort, `GET / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 2000 }, (_, i) => `X-${i}: y\r\n`).join('')}\r\n`);
    expect(statusLine(many)).toBe('HTTP/1.1 431 Request Header Fields Too Large');
    const garbage = await rawExchange(httpPort, Buffer.from([0x00, 0xff, 0x16, 0x03, 0x01, 0x0d, 0x0a, 0x0d, 0x0a]));
    expect(statusLine(garbage)).toBe('HTTP/1.1 400 Bad Request');
    const tls = await rawExchange(httpPort, Buffer.from('160301020001000100', 'hex'));
    expect(statusLine(tls)).toBe('HTTP/1.1 400 Bad Request');
    const body = await rawExchange(httpPort, `GET /streams.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 10\r\n\r\n0123456789`);
    expect(statusLine(body)).toBe('HTTP/1.1 200 OK');
    await stillServes(base);
    expect(recv.exitInfo).toBeUndefined();
  });

  it('closes a slowloris connection whose headers do not come within the timeout', async () => {
    const { recv, base, httpPort } = await startHttpViewer();
    const started = performance.now();
    const socket = connect(httpPort, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // One more byte now and then would not help: the whole header block has 10 s.
    socket.write('a');
    await once(socket, 'close');
    const seconds = (performance.now() - started) / 1000;
    expect(statusLine(Buffer.concat(chunks).toString('latin1'))).toBe('HTTP/1.1 408 Request Timeout');
    expect(seconds).toBeGreaterThanOrEqual(9);
    expect(seconds).toBeLessThan(20);
    await stillServes(base);
    expect(recv.exitInfo).toBeUndefined();
  });

  it('refuses connections past --http-max-clients with a 503, takes new ones once some leave, and survives a flood', async () => {
    const { recv, base, httpPort } = await startHttpViewer(['--http-max-clients', '8']);
    vstream(['send', '--pattern', '--size', '320x240', '--to', `127.0.0.1:${recv.port}`, '-q']);
    while ((await fetchBody(`${base}/snapshot`)).status !== 200) await new Promise((resolve) => setImmediate(resolve));
    // Each fetchBody above closed its connection; wait until the viewer has seen them go.
    const clients = [];
    for (let i = 0; i < 8; i++) {
      let client = await held(httpPort, 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
      // A connection of the polling above may not be counted out yet: try again once it is.
      while (!client.first.startsWith('HTTP/1.1 200')) {
        client.socket.destroy();
        client = await held(httpPort, 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
      }
      clients.push(client);
    }
    const refused = await rawExchange(httpPort, 'GET /streams.json HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(statusLine(refused)).toBe('HTTP/1.1 503 Service Unavailable');
    expect(refused).toContain('too many clients');
    // A flood: every connection is answered 503 or closed, none crashes the receiver.
    const flood = await Promise.all(Array.from({ length: 300 }, () => rawExchange(httpPort, 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n')));
    expect(flood.every((answer) => answer === '' || statusLine(answer) === 'HTTP/1.1 503 Service Unavailable')).toBe(true);
    for (const { socket } of clients.splice(0, 4)) {
      socket.destroy();
    }
    // Room again once the viewer has seen them close.
    let answer = await fetchBody(`${base}/streams.json`).catch(() => undefined);
    while (answer?.status !== 200) answer = await fetchBody(`${base}/streams.json`).catch(() => undefined);
    for (const { socket } of clients) socket.destroy();
    expect(recv.exitInfo).toBeUndefined();
    recv.kill('SIGINT');
    expect(await recv.exitCode).toBe(130);
  });

  it('lets the connection that has asked for nothing longest go when --http-max-clients are open: idle connections cannot keep a viewer out', async () => {
    const { recv, base, httpPort } = await startHttpViewer(['--http-max-clients', '8']);
    vstream(['send', '--pattern', '--size', '320x240', '--to', `127.0.0.1:${recv.port}`, '-q']);
    while ((await fetchBody(`${base}/snapshot`)).status !== 200) await new Promise((resolve) => setImmediate(resolve));
    // One stream client, then connections that never send a request, filling every place.
    const viewer = await held(httpPort, 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(viewer.first).toMatch(/^HTTP\/1\.1 200/);
    const idle: Socket[] = [];
    const idleClosed: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i++) {
      const socket = connect({ host: '127.0.0.1', port: httpPort });
      socket.on('error', () => {});
      idle.push(socket);
      idleClosed.push(once(socket, 'close'));
      await once(socket, 'connect');
    }
    // Each new one let an older idle one go; a real request is served at once, not 503.
    const answer = await rawExchange(httpPort, 'GET /streams.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(statusLine(answer)).toBe('HTTP/1.1 200 OK');
    // The stream client, which had asked, was never the one let go.
    await Promise.race(idleClosed);
    expect(viewer.socket.destroyed).toBe(false);
    for (const socket of [...idle, viewer.socket]) socket.destroy();
    expect(recv.exitInfo).toBeUndefined();
  });
});
