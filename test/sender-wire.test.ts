/**
 * What each sender puts on the wire for a frame, held byte for byte against the payload built
 * the way the senders built it before it came from one place: the JPEG copied once with the
 * metadata segment spliced in, then framed (TCP), cut into datagrams (UDP) or bare pieces
 * (legacy UDP).
 */
import { createServer, type Socket as TcpSocket } from 'node:net';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeHeader, parseHeader } from '../src/frame/header.js';
import { makeFrame } from '../src/frame/image-info.js';
import { metadataInsertOffset, metadataSegment, readMetadata } from '../src/frame/metadata.js';
import { DatagramType, encodeDatagramHeader, UDP_HEADER_SIZE } from '../src/frame/udp-datagram.js';
import { TcpFrameSender } from '../src/transport/tcp-sender.js';
import { UdpFrameSender } from '../src/transport/udp-sender.js';
import { LegacyUdpSender } from '../src/transport/udp-legacy-sender.js';
import type { Frame, FrameMeta } from '../src/frame/frame.js';
import { makeJpeg } from './helpers/jpeg.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

const CAPTURE_TIME = 1_731_000_000_123.5;

function referencePayload(image: Buffer, meta?: FrameMeta): Buffer {
  if (meta === undefined) return image;
  const at = metadataInsertOffset(image);
  return Buffer.concat([image.subarray(0, at), metadataSegment(meta), image.subarray(at)]);
}

/** Resolves once `ready()` holds, checked now and after each `event` of `emitter`. */
function until(emitter: NodeJS.EventEmitter, event: string, ready: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!ready()) return;
      emitter.off(event, check);
      resolve();
    };
    emitter.on(event, check);
    check();
  });
}

/** The JPEG every sender is held to, bare and as a frame with a capture time and a name. */
async function cases(): Promise<{ image: Buffer; named: Frame }> {
  const image = await makeJpeg({ width: 160, height: 120 });
  return { image, named: makeFrame(image, { captureTime: CAPTURE_TIME, name: 'n.jpg' }) };
}

/** The metadata a bare buffer got: its capture time is the sender's clock, checked to lie in [before, after]. */
function stampedNow(payload: Buffer, before: number, after: number): FrameMeta {
  const meta = readMetadata(payload)!;
  expect(meta.captureTime).toBeGreaterThanOrEqual(before);
  expect(meta.captureTime).toBeLessThanOrEqual(after);
  return meta;
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

describe('TcpFrameSender on the wire', () => {
  it('header + JPEG with the segment, identical to the copied reference, for a frame and for a bare buffer', async () => {
    const { image, named } = await cases();
    const server = createServer();
    const chunks: Buffer[] = [];
    let received = 0;
    let peer: TcpSocket | undefined;
    server.on('connection', (socket) => {
      peer = socket;
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        server.emit('bytes');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanup.push(() => new Promise((resolve) => server.close(resolve)));
    const port = (server.address() as { port: number }).port;
    const sender = await TcpFrameSender.connect({ host: '127.0.0.1', port, label: 'cam' });
    cleanup.push(() => sender.destroy());

    await sender.send(named, { seq: 7, live: true });
    const first = referencePayload(image, { seq: 7, captureTime: CAPTURE_TIME, label: 'cam', name: 'n.jpg', live: true });
    const before = now();
    await sender.send(image);
    const after = now();
    const secondAt = 16 + first.length;
    // The second frame's length depends on the digits of its capture time: read it from its header.
    await until(server, 'bytes', () => received >= secondAt + 16);
    const secondLength = parseHeader(Buffer.concat(chunks).subarray(secondAt), 1 << 24);
    await until(server, 'bytes', () => received >= secondAt + 16 + secondLength);
    const wire = Buffer.concat(chunks);
    expect(wire.subarray(0, secondAt).equals(Buffer.concat([encodeHeader(first.length), first]))).toBe(true);
    const rest = wire.subarray(secondAt);
    const second = referencePayload(image, stampedNow(rest.subarray(16), before, after));
    expect(rest.equals(Buffer.concat([encodeHeader(second.length), second]))).toBe(true);
    expect(readMetadata(second)).toMatchObject({ seq: 1, label: 'cam' });
    expect(readMetadata(second)).not.toHaveProperty('name');
    expect(sender.bytesSent).toBe(wire.length);
    peer?.destroy();
  });
});

describe('UdpFrameSender on the wire', () => {
  it('datagrams identical to the copied reference cut at packetSize - 24, for a frame and a bare buffer', async () => {
    const { image, named } = await cases();
    const socket = createSocket('udp4');
    cleanup.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    const datagrams: Buffer[] = [];
    socket.on('message', (msg: Buffer) => datagrams.push(msg));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const packetSize = 500;
    const sender = await UdpFrameSender.open({ host: '127.0.0.1', port: socket.address().port, label: 'cam', packetSize, rate: Infinity });
    cleanup.push(() => sender.destroy());

    const first = referencePayload(image, { seq: 7, captureTime: CAPTURE_TIME, label: 'cam', name: 'n.jpg', live: true });
    await sender.send(named, { seq: 7, live: true });
    const before = now();
    await sender.send(image);
    const after = now();
    const firstCount = Math.ceil(first.length / (packetSize - UDP_HEADER_SIZE));
    await until(socket, 'message', () => datagrams.length > firstCount && datagrams.length === firstCount + datagrams[firstCount]!.readUInt16BE(14));

    const payloadOf = (list: Buffer[]) => Buffer.concat(list.map((d) => d.subarray(UDP_HEADER_SIZE)));
    const second = referencePayload(image, stampedNow(payloadOf(datagrams.slice(firstCount)), before, after));
    const expected = [...cut(first, sender.streamId, 0, packetSize), ...cut(second, sender.streamId, 1, packetSize)];
    expect(datagrams.map((d) => d.toString('hex'))).toEqual(expected.map((d) => d.toString('hex')));
    expect(sender.bytesSent).toBe(expected.reduce((sum, d) => sum + d.length, 0));
  });

  function cut(payload: Buffer, streamId: number, frameSeq: number, packetSize: number): Buffer[] {
    const pieceSize = packetSize - UDP_HEADER_SIZE;
    const pieceCount = Math.ceil(payload.length / pieceSize);
    return Array.from({ length: pieceCount }, (_, index) =>
      Buffer.concat([
        encodeDatagramHeader({ type: DatagramType.PIECE, streamId, frameSeq, pieceIndex: index, pieceCount, frameLength: payload.length, offset: index * pieceSize }),
        payload.subarray(index * pieceSize, (index + 1) * pieceSize),
      ]),
    );
  }
});

describe('LegacyUdpSender on the wire', () => {
  /** Replies "OK" once it has the bytes its last length datagram announced, as the reference server does. */
  async function referenceServer(): Promise<{ port: number; datagrams: Buffer[]; socket: Socket }> {
    const socket = createSocket('udp4');
    cleanup.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    const datagrams: Buffer[] = [];
    let expected = 0;
    let got = 0;
    socket.on('message', (msg: Buffer, rinfo) => {
      datagrams.push(msg);
      if (expected === 0) {
        expected = msg.length === 8 ? Number(msg.readBigInt64LE(0)) : msg.readInt32LE(0);
        got = 0;
        return;
      }
      got += msg.length;
      if (got < expected) return;
      expected = 0;
      socket.send('OK', rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return { port: socket.address().port, datagrams, socket };
  }

  function legacy(payload: Buffer, pieceSize: number, lengthBytes: 4 | 8): Buffer[] {
    const length = Buffer.alloc(lengthBytes);
    if (lengthBytes === 8) length.writeBigInt64LE(BigInt(payload.length));
    else length.writeInt32LE(payload.length);
    const out: Buffer[] = [length];
    for (let offset = 0; offset < payload.length; offset += pieceSize) out.push(payload.subarray(offset, offset + pieceSize));
    return out;
  }

  for (const lengthBytes of [8, 4] as const) {
    it(`length datagram (${lengthBytes} bytes) and pieces identical to the copied reference, for a frame and a bare buffer`, async () => {
      const { image, named } = await cases();
      const server = await referenceServer();
      const pieceSize = 700;
      const sender = await LegacyUdpSender.open({ host: '127.0.0.1', port: server.port, label: 'cam', pieceSize, lengthBytes, pacing: 0 });
      cleanup.push(() => sender.close());

      await sender.send(named, { seq: 7, live: true });
      const first = referencePayload(image, { seq: 7, captureTime: CAPTURE_TIME, label: 'cam', name: 'n.jpg', live: true });
      const firstCount = 1 + Math.ceil(first.length / pieceSize);
      const before = now();
      await sender.send(image);
      const after = now();

      const second = referencePayload(image, stampedNow(Buffer.concat(server.datagrams.slice(firstCount + 1)), before, after));
      const expected = [...legacy(first, pieceSize, lengthBytes), ...legacy(second, pieceSize, lengthBytes)];
      expect(server.datagrams.map((d) => d.toString('hex'))).toEqual(expected.map((d) => d.toString('hex')));
      expect(sender.bytesSent).toBe(expected.reduce((sum, d) => sum + d.length, 0));
    });
  }

  it('with metadata off, the pieces are the JPEG as given', async () => {
    const { image, named } = await cases();
    const server = await referenceServer();
    const sender = await LegacyUdpSender.open({ host: '127.0.0.1', port: server.port, metadata: false, pacing: 0 });
    cleanup.push(() => sender.close());
    await sender.send(named, { seq: 3 });
    expect(server.datagrams.map((d) => d.toString('hex'))).toEqual(legacy(image, 1024, 8).map((d) => d.toString('hex')));
  });
});
