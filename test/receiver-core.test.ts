/**
 * The receiver core without any socket: a fake link per sender records what the core asked of
 * it (replies, pauses, resumes), and frames are pushed in as a transport would.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ReceiverCore, type CoreSender, type ReceiverCoreOptions } from '../src/transport/receiver-core.js';
import type { ReceiverEvents } from '../src/transport/types.js';
import type { ReceivedFrame } from '../src/frame/frame.js';
import { NetworkError } from '../src/errors.js';
import { metadataInsertOffset, metadataSegment } from '../src/frame/metadata.js';
import { makeJpeg } from './helpers/jpeg.js';

const JPEG = await makeJpeg({ width: 16, height: 16 });

/** A frame of a live source, as a camera sender makes it: its seq in the metadata. */
function live(seq: number): Buffer {
  const at = metadataInsertOffset(JPEG);
  return Buffer.concat([JPEG.subarray(0, at), metadataSegment({ seq, captureTime: 0, live: true }), JPEG.subarray(at)]);
}

interface Fake {
  events: EventEmitter<ReceiverEvents>;
  core: ReceiverCore<CoreSender>;
  log: string[];
  sender(peer: string): CoreSender;
}

function fake(options: Partial<ReceiverCoreOptions<CoreSender>> = {}): Fake {
  const events = new EventEmitter<ReceiverEvents>();
  const log: string[] = [];
  events.on('connection', ({ connectionId, peer }) => log.push(`connection ${connectionId} ${peer}`));
  events.on('disconnect', ({ connectionId, frames, error }) => log.push(`disconnect ${connectionId} frames=${frames}${error ? ` ${error.code}` : ''}`));
  const core = new ReceiverCore<CoreSender>({
    events,
    liveReplaces: true,
    disconnect: 'at-end',
    summary: (sender) => ({ frames: sender.completed }),
    ...options,
  });
  return {
    events,
    core,
    log,
    sender(peer) {
      const sender = core.newSender(peer, {
        reply: (ack) => log.push(`reply ${peer} ${ack.toString()}`),
        pause: () => log.push(`pause ${peer}`),
        resume: () => log.push(`resume ${peer}`),
        close: () => log.push(`close ${peer}`),
      });
      core.open(sender);
      return sender;
    },
  };
}

async function take(core: ReceiverCore<CoreSender>, iterator = core[Symbol.asyncIterator]()): Promise<ReceivedFrame> {
  const next = await iterator.next();
  if (next.done) throw new Error('iteration ended');
  return next.value;
}

describe('ReceiverCore', () => {
  it('numbers senders, and reports each one gone with what the transport summarises and why', () => {
    const { core, log, sender } = fake();
    const a = sender('a:1');
    const b = sender('b:2');
    core.frame(a, JPEG, 0);
    core.end(a);
    core.end(b, new NetworkError('idle', 'ERR_IDLE_TIMEOUT'));
    expect(log).toEqual(['connection 1 a:1', 'connection 2 b:2', 'disconnect 1 frames=1', 'disconnect 2 frames=0 ERR_IDLE_TIMEOUT']);
    expect(core.size).toBe(0);
    expect(core.queued).toBe(1);
  });

  it("with ackWhen 'received' replies as each frame completes", () => {
    const { core, log, sender } = fake({ ack: Buffer.from('OK') });
    const a = sender('a:1');
    core.frame(a, JPEG, 0);
    core.frame(a, JPEG, 1);
    expect(log.filter((l) => l.startsWith('reply'))).toEqual(['reply a:1 OK', 'reply a:1 OK']);
  });

  it("with ackWhen 'manual' replies once per frame taken, on acknowledge, and holds the sender up until then", async () => {
    const { core, log, sender } = fake({ ack: Buffer.from('OK'), ackWhen: 'manual' });
    const a = sender('a:1');
    core.frame(a, JPEG, 0);
    expect(log).not.toContain('reply a:1 OK');
    const frame = await take(core);
    expect(core.holdsUp(a)).toBe(true);
    core.acknowledge(frame);
    core.acknowledge(frame);
    expect(log.filter((l) => l.startsWith('reply'))).toEqual(['reply a:1 OK']);
    expect(core.holdsUp(a)).toBe(false);
  });

  it('a frame dropped for room is replied to at once (its sender may wait); a replaced live frame is not', async () => {
    const { core, log, sender } = fake({ ack: Buffer.from('OK'), ackWhen: 'manual', perSender: 1 });
    const a = sender('a:1');
    const b = sender('b:2');
    core.frame(a, JPEG, 0);
    core.frame(a, JPEG, 1); // a's first frame is pushed out
    core.frame(b, live(0), 0);
    core.frame(b, live(1), 1); // b's first frame is replaced
    expect(log.filter((l) => l.startsWith('reply'))).toEqual(['reply a:1 OK']);
    expect(a.discarded).toBe(1);
    expect(b.discarded).toBe(0);
    expect(core.framesDiscarded).toBe(1);
    const first = await take(core);
    expect([first.peer, first.seq, first.droppedBefore]).toEqual(['a:1', 1, 1]);
    const second = await take(core);
    expect([second.peer, second.seq, second.droppedBefore]).toEqual(['b:2', 1, 1]);
  });

  it('pauses a sender whose frame fills the queue and resumes it once the consumer drains it; live frames never pause', async () => {
    const { core, log, sender } = fake({ highWater: 2 });
    const a = sender('a:1');
    const camera = sender('live:2');
    core.frame(camera, live(0), 0);
    core.frame(camera, live(1), 1);
    core.frame(a, JPEG, 0);
    expect(log).toContain('pause a:1');
    expect(log).not.toContain('pause live:2');
    expect(core.isPaused(a)).toBe(true);
    const iterator = core[Symbol.asyncIterator]();
    await take(core, iterator);
    expect(log).toContain('resume a:1');
    expect(core.isPaused(a)).toBe(false);
  });

  it("with disconnect afterDelivery, reports a sender gone only once the consumer is done with its last frame", async () => {
    const { core, log, sender } = fake({
      disconnect: { afterDelivery: true, maxLeaving: 8 },
      summary: (s) => ({ frames: s.delivered }),
    });
    const a = sender('a:1');
    core.frame(a, JPEG, 0);
    core.end(a);
    expect(log).toEqual(['connection 1 a:1']);
    expect(core.get(a.connectionId)).toBe(a);
    const iterator = core[Symbol.asyncIterator]();
    await take(core, iterator);
    expect(log, 'the consumer still holds its frame').toEqual(['connection 1 a:1']);
    const next = iterator.next();
    expect(log).toEqual(['connection 1 a:1', 'disconnect 1 frames=1']);
    expect(core.get(a.connectionId)).toBeUndefined();
    await iterator.return?.();
    await next;
  });

  it('past maxLeaving ended senders waiting for delivery, the oldest one loses its frames', () => {
    const { core, log, sender } = fake({
      disconnect: { afterDelivery: true, maxLeaving: 1 },
      summary: (s) => ({ frames: s.delivered }),
    });
    const a = sender('a:1');
    const b = sender('b:2');
    core.frame(a, JPEG, 0);
    core.frame(b, JPEG, 0);
    core.end(a);
    core.end(b);
    expect(a.discarded).toBe(1);
    expect(log).toContain('disconnect 1 frames=0');
    expect(core.queued).toBe(1);
  });

  it('close() stops the transport and closes each sender, then ends the iteration after the queued frames; no replies once closing', async () => {
    const { core, log, sender } = fake({ ack: Buffer.from('OK') });
    const a = sender('a:1');
    core.frame(a, JPEG, 0);
    let stopped = false;
    const closed = core.close(async () => {
      stopped = true;
    });
    expect(core.closing).toBe(true);
    // A frame the transport completed before it stopped is still delivered, without a reply.
    core.frame(a, JPEG, 1);
    await closed;
    expect(stopped).toBe(true);
    expect(log).toContain('close a:1');
    const seqs: number[] = [];
    for await (const frame of core) seqs.push(frame.seq);
    expect(seqs).toEqual([0, 1]);
    expect(log.filter((l) => l.startsWith('reply'))).toEqual(['reply a:1 OK']);
  });
});
