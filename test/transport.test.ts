import { describe, it, expect, afterEach, vi } from 'vitest';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import sharp from 'sharp';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { TcpFrameSender } from '../src/transport/tcp-sender.js';
import { TcpFrameReceiver } from '../src/transport/tcp-receiver.js';
import { MemoryBudget } from '../src/transport/memory-budget.js';
import { encodeHeader } from '../src/frame/header.js';
import { frame as framed } from '../src/frame/framer.js';
import { makeFrame } from '../src/frame/image-info.js';
import { NetworkError } from '../src/errors.js';
import type { ReceivedFrame } from '../src/frame/frame.js';
import { freePort } from './helpers/ports.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

function jpeg(color: string, width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: color } }).jpeg().toBuffer();
}

async function listen(options: Partial<Parameters<typeof TcpFrameReceiver.listen>[0]> = {}): Promise<TcpFrameReceiver> {
  const receiver = await TcpFrameReceiver.listen({ port: 0, ...options });
  cleanup.push(() => receiver.close());
  return receiver;
}

// One iterator per receiver: leaving a `for await` would end the receiver's queue, and a
// test may take frames more than once.
const iterators = new WeakMap<TcpFrameReceiver, AsyncIterator<ReceivedFrame>>();

async function take(receiver: TcpFrameReceiver, n: number): Promise<ReceivedFrame[]> {
  let iterator = iterators.get(receiver);
  if (!iterator) iterators.set(receiver, (iterator = receiver[Symbol.asyncIterator]()));
  const frames: ReceivedFrame[] = [];
  while (frames.length < n) {
    const result = await iterator.next();
    if (result.done) break;
    frames.push(result.value);
  }
  return frames;
}

function rawClient(host: string, port: number): Promise<Socket> {
  const socket = connect({ host, port });
  cleanup.push(() => socket.destroy());
  return once(socket, 'connect').then(() => socket);
}

describe.each([['127.0.0.1'], ['::1']])('sender -> receiver over %s', (host) => {
  it('delivers frames intact, in order, with metadata', async () => {
    const receiver = await listen();
    const images = await Promise.all(['#f00', '#0f0', '#00f'].map((c) => jpeg(c)));
    const sender = await TcpFrameSender.connect({ host, port: receiver.port, label: 'cam1' });
    cleanup.push(() => sender.destroy());
    const got = take(receiver, 3);
    for (const [i, image] of images.entries()) await sender.send(makeFrame(image, { name: `${i}.jpg` }));
    const frames = await got;
    expect(frames.map((f) => f.seq)).toEqual([0, 1, 2]);
    expect(frames.map((f) => f.meta?.name)).toEqual(['0.jpg', '1.jpg', '2.jpg']);
    expect(frames.every((f) => f.sender === 'cam1')).toBe(true);
    for (const [i, frame] of frames.entries()) {
      const { data } = await sharp(frame.data).raw().toBuffer({ resolveWithObject: true });
      const expected = await sharp(images[i]).raw().toBuffer();
      expect(data.equals(expected)).toBe(true);
      expect(frame.receivedAt).toBeGreaterThanOrEqual(frame.meta!.captureTime);
    }
  });

  it('names a sender without a label by its address', async () => {
    const receiver = await listen();
    const sender = await TcpFrameSender.connect({ host, port: receiver.port, metadata: false });
    cleanup.push(() => sender.destroy());
    const got = take(receiver, 1);
    const image = await jpeg('#888');
    await sender.send(image);
    const [frame] = await got;
    expect(frame!.data.equals(image)).toBe(true);
    expect(frame!.meta).toBeUndefined();
    expect(frame!.sender).toBe(frame!.peer);
    expect(frame!.peer).toMatch(host === '::1' ? /^\[::1\]:\d+$/ : /^127\.0\.0\.1:\d+$/);
  });
});

describe('receiver', () => {
  it('keeps serving other senders when one sends a malformed header', async () => {
    const receiver = await listen();
    const good = await TcpFrameSender.connect({ host: '127.0.0.1', port: receiver.port, label: 'good' });
    cleanup.push(() => good.destroy());
    const bad = await rawClient('::1', receiver.port);
    const disconnected = once(receiver, 'disconnect');
    bad.write('12ab            ');
    const [info] = (await disconnected) as [{ peer: string; error?: { code: string; message: string } }];
    expect(info.error?.code).toBe('ERR_BAD_HEADER');
    expect(info.peer).toMatch(/^\[::1\]:\d+$/);
    const got = take(receiver, 2);
    await good.send(await jpeg('#f00'));
    await good.send(await jpeg('#0f0'));
    expect((await got).map((f) => f.sender)).toEqual(['good', 'good']);
  });

  it('refuses a length over maxFrameBytes before the payload arrives', async () => {
    const receiver = await listen({ maxFrameBytes: 1000 });
    const client = await rawClient('127.0.0.1', receiver.port);
    const disconnected = once(receiver, 'disconnect');
    client.write(encodeHeader(1001));
    const [info] = (await disconnected) as [{ error?: { code: string } }];
    expect(info.error?.code).toBe('ERR_FRAME_TOO_LARGE');
  });

  it('reports a connection that ends in the middle of a frame, and delivers the frames before it', async () => {
    const receiver = await listen();
    const client = await rawClient('127.0.0.1', receiver.port);
    const image = await jpeg('#123');
    const disconnected = once(receiver, 'disconnect');
    client.end(Buffer.concat([encodeHeader(image.length), image, encodeHeader(image.length), image.subarray(0, 10)]));
    const [frame] = await take(receiver, 1);
    expect(frame!.data.equals(image)).toBe(true);
    const [info] = (await disconnected) as [{ frames: number; error?: { code: string } }];
    expect(info.frames).toBe(1);
    expect(info.error?.code).toBe('ERR_TRUNCATED_FRAME');
  });

  it('accepts headers as C++ senders write them: right-aligned and NUL-padded', async () => {
    const receiver = await listen();
    const client = await rawClient('127.0.0.1', receiver.port);
    const image = await jpeg('#0ff');
    const n = String(image.length);
    client.write(Buffer.concat([Buffer.from(n.padStart(16, ' ')), image]));
    client.write(Buffer.concat([Buffer.from(n), Buffer.alloc(16 - n.length), image]));
    const frames = await take(receiver, 2);
    expect(frames.every((f) => f.data.equals(image))).toBe(true);
  });

  it('replies with the ack text after each frame', async () => {
    const receiver = await listen({ ack: 'OK' });
    const client = await rawClient('127.0.0.1', receiver.port);
    const image = await jpeg('#fff');
    const replies: Buffer[] = [];
    client.on('data', (chunk: Buffer) => replies.push(chunk));
    const got = take(receiver, 1);
    client.write(Buffer.concat([encodeHeader(image.length), image]));
    await got;
    if (replies.length === 0) await once(client, 'data');
    expect(Buffer.concat(replies).toString()).toBe('OK');
  });

  it("with ackWhen 'manual' replies only when the consumer acknowledges the frame", async () => {
    const receiver = await listen({ ack: 'OK', ackWhen: 'manual' });
    const sender = await TcpFrameSender.connect({ host: '127.0.0.1', port: receiver.port, waitAck: true });
    cleanup.push(() => sender.destroy());
    let acked = false;
    const sent = sender.send(await jpeg('#321')).then(() => (acked = true));
    const [frame] = await take(receiver, 1);
    // The frame is here but not yet processed: no reply may have gone out.
    await new Promise((resolve) => setImmediate(resolve));
    expect(acked).toBe(false);
    receiver.acknowledge(frame!);
    await sent;
    expect(acked).toBe(true);
  });

  it('fails with ERR_PORT_IN_USE on a busy port', async () => {
    const first = await listen();
    await expect(TcpFrameReceiver.listen({ port: first.port })).rejects.toMatchObject({
      code: 'ERR_PORT_IN_USE',
      exitCode: 3,
    });
  });

  /** About 300 kB: noise does not compress, so kernel buffers hold only a few of these. */
  function noiseJpeg(): Promise<Buffer> {
    const noise = Buffer.alloc(640 * 480 * 3);
    for (let i = 0; i < noise.length; i += 1) noise[i] = (i * 2654435761) >>> 24;
    return sharp(noise, { raw: { width: 640, height: 480, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
  }

  it('applies backpressure instead of queueing without bound: unconsumed, it stops reading and the sender stalls', async () => {
    const receiver = await listen({ maxQueuedFrames: 4 });
    // The sender's own stall detector is the proof that the receiver stopped reading: it fires
    // only once the kernel has taken no byte at all for a whole second.
    const sender = await TcpFrameSender.connect({ host: '127.0.0.1', port: receiver.port, stallTimeoutMs: 1000 });
    cleanup.push(() => sender.destroy());
    const image = await noiseJpeg();
    // 200 frames (60 MB) is far more than loopback buffers hold.
    let sent = 0;
    const failure = await (async () => {
      while (sent < 200) {
        await sender.send(image);
        sent += 1;
      }
    })().then(
      () => new Error(`all ${sent} frames went out although nobody consumed`),
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: 'ERR_STALLED' });
    expect(sent).toBeLessThan(200);
    expect(receiver.queued).toBeGreaterThanOrEqual(4);
    expect(receiver.queued).toBeLessThanOrEqual(8);
  });

  it('consuming releases the backpressure and every frame still arrives', async () => {
    const receiver = await listen({ maxQueuedFrames: 4 });
    const sender = await TcpFrameSender.connect({ host: '127.0.0.1', port: receiver.port });
    cleanup.push(() => sender.destroy());
    const image = await noiseJpeg();
    let sent = 0;
    const sending = (async () => {
      while (sent < 200) {
        await sender.send(image);
        sent += 1;
      }
    })();
    // Consume only once the queue is at its bound, so that the receiver has paused the sender.
    await vi.waitFor(() => expect(receiver.queued).toBeGreaterThanOrEqual(4), { timeout: 20_000, interval: 5 });
    expect(sent).toBeLessThan(200);
    const frames = await take(receiver, 200);
    expect(frames).toHaveLength(200);
    await sending;
    expect(sent).toBe(200);
  });
});

describe('live streams', () => {
  it('never back up: a consumer that falls behind gets the newest frame, the older ones are dropped and counted', async () => {
    const receiver = await listen({ maxQueuedFrames: 4 });
    const sender = await TcpFrameSender.connect({ host: '127.0.0.1', port: receiver.port });
    cleanup.push(() => sender.destroy());
    const image = await jpeg('#4a4', 320, 240);
    // Nobody consumes while 200 live frames go out: they must all be accepted (no TCP
    // backpressure that would queue stale video in socket buffers) and replace each other.
    for (let seq = 0; seq < 200; seq += 1) await sender.send(image, { seq, live: true });
    const gone = once(receiver, 'disconnect');
    await sender.close();
    await gone;
    expect(receiver.queued).toBe(1);
    const [frame] = await take(receiver, 1);
    expect(frame!.seq).toBe(199);
    expect(frame!.meta?.live).toBe(true);
    expect(frame!.droppedBefore).toBe(199);
  });

  it('an idle consumer gets every frame, also when several arrive in one TCP segment', async () => {
    const receiver = await listen();
    const socket = await rawClient('127.0.0.1', receiver.port);
    const image = await jpeg('#48c');
    // The consumer is already waiting when the segment with both frames is parsed: the first
    // is handed over at once and must not be replaced by the second.
    const first = receiver[Symbol.asyncIterator]().next();
    const now = Date.now();
    socket.write(Buffer.concat([0, 1].flatMap((seq) => framed(image, { seq, captureTime: now, live: true }))));
    const a = (await first).value as ReceivedFrame;
    const [b] = await take(receiver, 1);
    expect([a.seq, a.droppedBefore]).toEqual([0, undefined]);
    expect([b!.seq, b!.droppedBefore]).toEqual([1, undefined]);
  });
});

describe('sender errors', () => {
  it('says connection refused when nothing listens', async () => {
    const port = await freePort();
    const err = await TcpFrameSender.connect({ host: '127.0.0.1', port }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ code: 'ERR_CONNECTION_REFUSED', exitCode: 3 });
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
  });

  it('fails the next send when the receiver goes away', async () => {
    const receiver = await TcpFrameReceiver.listen({ port: 0 });
    const sender = await TcpFrameSender.connect({ host: '127.0.0.1', port: receiver.port });
    cleanup.push(() => sender.destroy());
    const image = await jpeg('#f0f');
    await sender.send(image);
    await receiver.close();
    await expect(
      (async () => {
        for (;;) {
          await sender.send(image);
          // Let the socket's close event in, as any real source does between frames.
          await new Promise((resolve) => setImmediate(resolve));
        }
      })(),
    ).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
  });

  it('times out waiting for an ack that never comes', async () => {
    const receiver = await listen();
    const sender = await TcpFrameSender.connect({ host: '127.0.0.1', port: receiver.port, waitAck: true, ackTimeoutMs: 300 });
    cleanup.push(() => sender.destroy());
    await expect(sender.send(await jpeg('#000'))).rejects.toMatchObject({ code: 'ERR_ACK_TIMEOUT' });
  });

  it('waits for each ack with waitAck', async () => {
    const receiver = await listen({ ack: 'OK' });
    const sender = await TcpFrameSender.connect({ host: '::1', port: receiver.port, waitAck: true });
    cleanup.push(() => sender.destroy());
    const got = take(receiver, 3);
    for (let i = 0; i < 3; i += 1) await sender.send(await jpeg('#0a0'));
    expect(await got).toHaveLength(3);
  });
});

/** Resolves with the first `disconnect` of connection `id`. */
function disconnectOf(receiver: TcpFrameReceiver, id: number): Promise<{ connectionId: number; frames: number; error?: { code: string; message: string } }> {
  return new Promise((resolve) => {
    const listener = (info: { connectionId: number; frames: number; error?: { code: string; message: string } }) => {
      if (info.connectionId !== id) return;
      receiver.off('disconnect', listener);
      resolve(info);
    };
    receiver.on('disconnect', listener);
  });
}

/** A raw client, once the receiver has accepted it: its socket and connection id. */
async function accepted(receiver: TcpFrameReceiver, host = '127.0.0.1'): Promise<{ socket: Socket; id: number }> {
  const connected = once(receiver, 'connection') as Promise<[{ connectionId: number }]>;
  const socket = await rawClient(host, receiver.port);
  // Closed by the receiver with bytes unread, it may see a reset: that is what these tests provoke.
  socket.on('error', () => {});
  const [{ connectionId }] = await connected;
  return { socket, id: connectionId };
}

describe('memory budget across connections', () => {
  it('keeps one charge per holder', () => {
    const budget = new MemoryBudget<string>(100);
    budget.hold('a', 60);
    budget.hold('a', 70);
    budget.hold('b', 40);
    expect([budget.held, budget.heldBy('a'), budget.exceeded]).toEqual([110, 70, true]);
    budget.release('a');
    budget.release('a');
    expect([budget.held, budget.holders, budget.exceeded]).toEqual([40, 1, false]);
    expect(() => new MemoryBudget(0)).toThrow(RangeError);
  });

  it('refuses at once a header announcing more than the whole budget', async () => {
    const receiver = await listen({ maxBufferedBytes: 1024 * 1024 });
    const { socket, id } = await accepted(receiver);
    const gone = disconnectOf(receiver, id);
    socket.write(encodeHeader(2 * 1024 * 1024));
    const info = await gone;
    expect(info.error?.code).toBe('ERR_BUDGET');
    expect(info.error?.message).toContain('--max-buffered-bytes');
  });

  it('closes the connection with the largest unfinished frame when the budget is full; small frames go on', async () => {
    const budget = 1024 * 1024;
    const receiver = await listen({ maxBufferedBytes: budget });
    const good = await TcpFrameSender.connect({ host: '127.0.0.1', port: receiver.port, label: 'good' });
    cleanup.push(() => good.destroy());
    const big = await accepted(receiver);
    const other = await accepted(receiver);
    const frames: ReceivedFrame[] = [];
    let otherFrameArrived: (frame: ReceivedFrame) => void = () => {};
    const otherFrame = new Promise<ReceivedFrame>((resolve) => (otherFrameArrived = resolve));
    const consuming = (async () => {
      for (;;) {
        const [frame] = await take(receiver, 1);
        if (!frame) return;
        frames.push(frame);
        if (frame.connectionId === other.id) otherFrameArrived(frame);
      }
    })();
    let bigClosed = false;
    const bigGone = disconnectOf(receiver, big.id).then((info) => ((bigClosed = true), info));
    let otherGone = false;
    void disconnectOf(receiver, other.id).then(() => (otherGone = true));
    // 800 kB + 300 kB of two unfinished 900 kB frames: over 1 MiB. The big one may first just
    // wait (it holds the most); a sender of small frames that needs room gets it at once.
    other.socket.write(Buffer.concat([encodeHeader(900_000), Buffer.alloc(300_000, 1)]));
    big.socket.write(Buffer.concat([encodeHeader(900_000), Buffer.alloc(800_000, 2)]));
    const image = await jpeg('#f00');
    let sent = 0;
    while (!bigClosed && sent < 1000) {
      await good.send(image);
      sent += 1;
      // Let the receiver read what is on the sockets before the next frame.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const info = await bigGone;
    expect(info.error?.code).toBe('ERR_BUDGET');
    expect(receiver.bufferedBytes).toBeLessThanOrEqual(budget);
    expect(otherGone).toBe(false);
    // The other unfinished frame is still there and completes; the small sender was never touched.
    other.socket.write(Buffer.alloc(600_000, 3));
    expect((await otherFrame).data.length).toBe(900_000);
    await good.send(image);
    sent += 1;
    await good.close();
    await receiver.close();
    await consuming;
    expect(frames.filter((f) => f.sender === 'good')).toHaveLength(sent);
  });

  it('pauses the senders while queued frames fill half the budget, and delivers everything after', async () => {
    const budget = 2 * 1024 * 1024;
    // A count limit that would never bite: only the byte limit holds the queue back.
    const receiver = await listen({ maxBufferedBytes: budget, maxQueuedFrames: 1000 });
    const size = 300_000;
    const count = 60;
    const { socket } = await accepted(receiver);
    const payload = Buffer.alloc(size, 7);
    for (let i = 0; i < count; i++) socket.write(Buffer.concat([encodeHeader(size), payload]));
    // The clock: another receiver's idle sweep closes a silent connection a while later, long
    // after 18 MB could have crossed loopback. (This receiver pauses every socket, so none of
    // its own connections is idle.)
    const clock = await listen({ idleTimeoutMs: 300 });
    const tick = await accepted(clock);
    await disconnectOf(clock, tick.id);
    expect(receiver.queued).toBeGreaterThan(0);
    expect(receiver.queued * size).toBeLessThanOrEqual(budget / 2 + size);
    expect(receiver.bufferedBytes).toBeLessThanOrEqual(budget + 64 * 1024);
    expect(socket.writableLength).toBeGreaterThan(0);
    const frames = await take(receiver, count);
    expect(frames.every((f) => f.data.length === size)).toBe(true);
  });

  it('leaves nothing behind after 20000 short connections', async () => {
    const receiver = await listen();
    const image = await jpeg('#246');
    const message = Buffer.concat([encodeHeader(image.length), image]);
    let delivered = 0;
    const consuming = (async () => {
      for await (const _ of receiver) delivered += 1;
    })();
    const one = () =>
      new Promise<void>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: receiver.port }, () => socket.end(message));
        socket.on('error', reject);
        socket.on('close', () => resolve());
      });
    let closed = 0;
    receiver.on('disconnect', () => (closed += 1));
    const run = async (total: number) => {
      const target = closed + total;
      const allClosed = new Promise<void>((resolve) => {
        const check = () => {
          if (closed < target) return;
          receiver.off('disconnect', check);
          resolve();
        };
        receiver.on('disconnect', check);
      });
      let started = 0;
      const worker = async () => {
        while (started < total) {
          started += 1;
          await one();
        }
      };
      await Promise.all(Array.from({ length: 50 }, worker));
      await allClosed;
    };
    // Live memory after a full collection: RSS without one is mostly garbage not yet collected.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const live = () => {
      gc();
      const { heapUsed, arrayBuffers } = process.memoryUsage();
      return heapUsed + arrayBuffers;
    };
    // The first ones warm up the heap and the JIT; growth after that would be a leak.
    await run(2000);
    const before = live();
    await run(20_000);
    expect(receiver.connectionCount).toBe(0);
    expect(receiver.bufferedBytes).toBe(0);
    // 20000 connections: a leak of even 200 bytes each would show.
    const grown = live() - before;
    expect(grown, `live memory grew ${(grown / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(4 * 1024 * 1024);
    await receiver.close();
    await consuming;
    expect(delivered).toBe(22_000);
  });
});

describe('connection limit', () => {
  it('replaces the oldest connection that has completed no frame', async () => {
    const receiver = await listen({ maxConnections: 2 });
    const oldest = await accepted(receiver);
    const next = await accepted(receiver);
    const gone = disconnectOf(receiver, oldest.id);
    const closedByReceiver = once(oldest.socket, 'close');
    const newest = await accepted(receiver);
    expect((await gone).error?.code).toBe('ERR_REPLACED');
    await closedByReceiver;
    expect(receiver.connectionCount).toBe(2);
    // The newcomer is served.
    const image = await jpeg('#abc');
    const got = take(receiver, 1);
    newest.socket.write(Buffer.concat([encodeHeader(image.length), image]));
    expect((await got)[0]!.connectionId).toBe(newest.id);
    expect(next.socket.destroyed).toBe(false);
  });

  it('refuses a newcomer when every connection is delivering frames, with a problem event', async () => {
    const receiver = await listen({ maxConnections: 2 });
    const senders = await Promise.all(
      ['a', 'b'].map((label) => TcpFrameSender.connect({ host: '127.0.0.1', port: receiver.port, label })),
    );
    for (const sender of senders) cleanup.push(() => sender.destroy());
    const first = take(receiver, 2);
    for (const sender of senders) await sender.send(await jpeg('#111'));
    await first;
    let announced = false;
    receiver.on('connection', () => (announced = true));
    const problem = once(receiver, 'problem') as Promise<[{ code: string; message: string }]>;
    const refused = await rawClient('127.0.0.1', receiver.port);
    const [{ code, message }] = await problem;
    expect(code).toBe('ERR_TOO_MANY_CONNECTIONS');
    expect(message).toMatch(/^refused a connection from 127\.0\.0\.1:\d+: all 2 connections/);
    await once(refused, 'close');
    expect(announced).toBe(false);
    // The two that deliver frames go on.
    const more = take(receiver, 2);
    for (const sender of senders) await sender.send(await jpeg('#222'));
    expect((await more).map((f) => f.sender).sort()).toEqual(['a', 'b']);
  });

  it('stays below the open-file limit minus a reserve', async () => {
    const { connectionLimit, FD_RESERVE } = await import('../src/transport/fd-limit.js');
    expect(connectionLimit(256, 1024)).toBe(256);
    expect(connectionLimit(5000, 1024)).toBe(1024 - FD_RESERVE);
    expect(connectionLimit(5000, 10)).toBe(1);
    const receiver = await listen({ maxConnections: 1_000_000 });
    expect(receiver.connectionLimit).toBeLessThan(1_000_000);
  });
});

describe('idle timeout', () => {
  it('closes a connection that completes no frame', async () => {
    const receiver = await listen({ idleTimeoutMs: 200 });
    const { socket, id } = await accepted(receiver);
    const gone = disconnectOf(receiver, id);
    await once(socket, 'close');
    const info = await gone;
    expect(info.error?.code).toBe('ERR_IDLE_TIMEOUT');
    expect(receiver.connectionCount).toBe(0);
  });

  it('does not close a sender waiting for the consumer to acknowledge its frame', async () => {
    const receiver = await listen({ idleTimeoutMs: 200, ack: 'OK', ackWhen: 'manual' });
    const sender = await TcpFrameSender.connect({ host: '127.0.0.1', port: receiver.port, waitAck: true });
    cleanup.push(() => sender.destroy());
    const sent = sender.send(await jpeg('#333'));
    const [frame] = await take(receiver, 1);
    // A silent connection accepted after the frame arrived times out first, unless the
    // waiting sender is (wrongly) counted as idle.
    const silent = await accepted(receiver);
    const senderGone = disconnectOf(receiver, frame!.connectionId);
    expect((await disconnectOf(receiver, silent.id)).error?.code).toBe('ERR_IDLE_TIMEOUT');
    expect(receiver.connectionCount).toBe(1);
    // Once acknowledged, its own idle clock runs.
    receiver.acknowledge(frame!);
    await sent;
    expect((await senderGone).error?.code).toBe('ERR_IDLE_TIMEOUT');
  });
});
