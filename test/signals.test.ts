/**
 * SIGINT and SIGTERM end a command whatever its peers or readers do: a stdout reader that
 * stopped reading, a receiver that stopped reading. The summary is printed first; SIGINT exits
 * 130, SIGTERM 143. A sender whose receiver stops reading gives up after --stall-timeout.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { stopAll, startReceiver, vstream } from './helpers/process.js';
import { FFMPEG, makeClip } from './helpers/ffmpeg.js';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const env = { VSTREAM_FFMPEG: FFMPEG };
const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) server.close();
  await stopAll();
});

/** A TCP server that accepts and then never reads: the receiver that stopped reading. */
async function deafServer(): Promise<{ port: number; connected: Promise<Socket> }> {
  const server = createServer();
  servers.push(server);
  const connected = new Promise<Socket>((resolve) =>
    server.once('connection', (socket) => {
      // Read one chunk so the test knows frames flow, then stop for good.
      socket.once('data', () => {
        socket.pause();
        resolve(socket);
      });
    }),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as { port: number }).port, connected };
}

describe('recv and signals', () => {
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`a recv whose stdout reader stalled ends at the first ${signal} with the summary, exit ${code}`, async () => {
      // The stdout pipe must really stop being read: paused below, after the first frame.
      const recv = vstream(['recv', '--no-window', '--listen', '0', '--bind', '127.0.0.1', '--output', '-', '--stats'], { env });
      const [, port] = await recv.waitForLine(/listening on .*?(\d+)\)?\s*$/, 'stderr');
      vstream(['send', '--pattern', '--size', '640x480', '--quality', '95', '--to', `127.0.0.1:${port}`, '-q'], { env });
      // First output byte: frames reach the sink. Then nobody reads again.
      await once(recv.child.stdout!, 'data');
      recv.child.stdout!.pause();
      // A stats line comes a second later: by then 30 frames have outgrown the pipe.
      await recv.waitForLine(/: \d+ fps/, 'stderr');
      recv.kill(signal);
      expect(await recv.exitCode).toBe(code);
      expect(recv.stderr()).toMatch(/received \d+ frames/);
      expect(recv.stderr()).not.toMatch(/internal error|\n\s+at /);
    });
  }

  it('SIGTERM on an idle recv exits 143 after the summary', async () => {
    const recv = await startReceiver(['--json'], { env });
    recv.kill('SIGTERM');
    expect(await recv.exitCode).toBe(143);
    expect(recv.stderr()).toMatch(/received 0 frames/);
  });
});

describe('send and a receiver that stopped reading', () => {
  it('gives up after --stall-timeout with exit 3 and a line that says so', async () => {
    const deaf = await deafServer();
    const send = vstream(['send', '--pattern', '--size', '1280x720', '--quality', '100', '--fps', '200', '--to', `127.0.0.1:${deaf.port}`, '--stall-timeout', '1'], { env });
    await deaf.connected;
    expect(await send.exitCode).toBe(3);
    expect(send.stderr()).toMatch(/stopped reading: nothing could be sent for 1 s/);
  });

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`ends at the first ${signal} with the summary, exit ${code}`, async () => {
      const deaf = await deafServer();
      const send = vstream(['send', '--pattern', '--size', '1280x720', '--quality', '100', '--fps', '200', '--to', `127.0.0.1:${deaf.port}`], { env });
      await deaf.connected;
      send.kill(signal);
      expect(await send.exitCode).toBe(code);
      expect(send.stderr()).toMatch(/sent \d+ frames/);
    });
  }

  it('a --file send into a receiver that stopped reading ends at the first SIGINT', async () => {
    const deaf = await deafServer();
    const clip = await makeClip(await mkdtemp(join(tmpdir(), 'vstream-signals-')), { frames: 300, width: 1280, height: 720 });
    const send = vstream(['send', '--file', clip, '--fps', 'max', '--quality', '100', '--to', `127.0.0.1:${deaf.port}`], { env });
    await deaf.connected;
    send.kill('SIGINT');
    expect(await send.exitCode).toBe(130);
    expect(send.stderr()).toMatch(/sent \d+ frames/);
  });
});
