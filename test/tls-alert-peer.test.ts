/**
 * The TLS alert a listening end with a shared secret sends a plain peer, as the plain end's
 * parts read it: the frame parser (told from the alert's first two bytes, however they are
 * split), the plain TCP sender (over a real loopback socket), and what is not an alert.
 */
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthError, ProtocolError } from '../src/errors.js';
import { encodeHeader } from '../src/frame/header.js';
import { TcpFrameParser } from '../src/reassemble/tcp-parser.js';
import { opensWithTlsAlert } from '../src/frame/header.js';
import { TLS_HANDSHAKE_FAILURE_ALERT } from '../src/transport/secure-socket.js';
import { TcpFrameSender } from '../src/transport/tcp-sender.js';

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** Pushes `chunks` one by one; the error the parser threw, if any, and the frames. */
function push(chunks: Buffer[]): { frames: Buffer[]; error?: unknown } {
  const parser = new TcpFrameParser();
  const frames: Buffer[] = [];
  try {
    for (const chunk of chunks) parser.push(chunk, (frame) => frames.push(Buffer.from(frame)));
  } catch (error) {
    return { frames, error };
  }
  return { frames };
}

function bytes(buf: Buffer): Buffer[] {
  return [...buf].map((byte) => Buffer.from([byte]));
}

describe('the frame parser', () => {
  it('refuses the 7-byte alert at once, as an AuthError, whole or one byte at a time', () => {
    for (const chunks of [[TLS_HANDSHAKE_FAILURE_ALERT], bytes(TLS_HANDSHAKE_FAILURE_ALERT)]) {
      const { error } = push(chunks);
      expect(error).toBeInstanceOf(AuthError);
      expect((error as AuthError).code).toBe('ERR_AUTH');
      expect((error as Error).message).toBe('refused by a TLS alert: the peer has a shared secret and this end none (give both the same --secret-file)');
    }
  });

  it('names a TLS handshake from its first bytes too, as the bad header it always was', () => {
    const { error } = push([Buffer.from([0x16, 0x03, 0x01, 0x00])]);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('ERR_BAD_HEADER');
    expect((error as Error).message).toMatch(/a TLS handshake: the sender has a shared secret and this receiver none/);
  });

  it('still reads frames whose headers come one byte at a time, and an alert after a frame is still refused', () => {
    const payload = Buffer.from([0xff, 0xd8, 0x01, 0xff, 0xd9]);
    const frame = Buffer.concat([encodeHeader(payload.length), payload]);
    expect(push([...bytes(frame), ...bytes(frame)])).toEqual({ frames: [payload, payload] });
    const { frames, error } = push([frame, TLS_HANDSHAKE_FAILURE_ALERT]);
    expect(frames).toEqual([payload]);
    expect(error).toBeInstanceOf(AuthError);
  });
});

describe('opensWithTlsAlert', () => {
  it('tells from two bytes, waits on one, and is not fooled by replies', () => {
    expect(opensWithTlsAlert(Buffer.alloc(0))).toBe('maybe');
    expect(opensWithTlsAlert(Buffer.from([0x15]))).toBe('maybe');
    expect(opensWithTlsAlert(TLS_HANDSHAKE_FAILURE_ALERT)).toBe('yes');
    expect(opensWithTlsAlert(Buffer.from('OK'))).toBe('no');
    expect(opensWithTlsAlert(Buffer.from([0x15, 0x04]))).toBe('no');
  });
});

/** A listening socket that runs `answer` on its first connection. */
async function server(answer: (socket: Socket) => void): Promise<number> {
  const srv = createServer(answer);
  servers.push(srv);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return (srv.address() as { port: number }).port;
}

const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);

describe('the plain TCP sender', () => {
  it('fails with an AuthError naming the receiver when the connection opens with the alert, even split', async () => {
    const port = await server((socket) => {
      socket.on('data', () => undefined);
      // One byte per write, with a round trip between: the sender sees the alert in pieces.
      const rest = bytes(TLS_HANDSHAKE_FAILURE_ALERT);
      const next = () => {
        const piece = rest.shift();
        if (piece) socket.write(piece, () => setImmediate(next));
      };
      next();
    });
    const sender = await TcpFrameSender.connect({ host: '127.0.0.1', port, metadata: false });
    const failure = await (async () => {
      for (;;) {
        await sender.send(jpeg);
        // A frame a turn of the event loop, so that the replies are read in between.
        await new Promise((resolve) => setImmediate(resolve));
      }
    })().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(AuthError);
    expect((failure as Error).message).toBe(`127.0.0.1:${port} refused this sender: it has a shared secret and this sender none (give both the same --secret-file)`);
  });

  it('takes replies that start with other bytes as replies (stop-and-wait still works)', async () => {
    const port = await server((socket) => socket.on('data', () => socket.write('OK')));
    const sender = await TcpFrameSender.connect({ host: '127.0.0.1', port, metadata: false, waitAck: true, ackTimeoutMs: 5000 });
    await sender.send(jpeg);
    await sender.send(jpeg);
    expect(sender.framesSent).toBe(2);
    sender.destroy();
  });

  it('a refusal that comes while the sender closes still fails the close', async () => {
    let written!: () => void;
    const gotFrame = new Promise<void>((resolve) => (written = resolve));
    const port = await server((socket) => {
      socket.once('data', () => written());
      socket.on('data', () => undefined);
      void gotFrame.then(() => socket.end(TLS_HANDSHAKE_FAILURE_ALERT));
    });
    const sender = await TcpFrameSender.connect({ host: '127.0.0.1', port, metadata: false });
    await sender.send(jpeg);
    await gotFrame;
    // Whether the alert is read before the close starts or during it.
    await expect(sender.close()).rejects.toBeInstanceOf(AuthError);
    await expect(sender.close()).rejects.toBeInstanceOf(AuthError);
  });
});
