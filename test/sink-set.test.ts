import { describe, expect, it } from 'vitest';
import type { ReceivedFrame } from '../src/frame/frame.js';
import { SinkSet, type SinkDrop } from '../src/sink/sink-set.js';
import type { DropListener, FrameSink } from '../src/sink/types.js';

/** Lets every promise reaction already due run: the set and its sinks use no timers or I/O. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function frameOf(connectionId: number, seq: number, { live = false, bytes = 10 } = {}): ReceivedFrame {
  return {
    data: Buffer.alloc(bytes),
    type: 'other',
    sender: `cam${connectionId}`,
    peer: '127.0.0.1:1',
    connectionId,
    seq,
    receivedAt: 0,
    meta: { seq, captureTime: 0, ...(live && { live }) },
  };
}

const names = (frames: readonly ReceivedFrame[]) => frames.map((f) => `${f.connectionId}:${f.seq}`);

/** A sink whose writes finish at once, or (gated) only when the test releases them one by one. */
class TestSink implements FrameSink {
  readonly started: ReceivedFrame[] = [];
  readonly written: ReceivedFrame[] = [];
  readonly gone: number[] = [];
  closed = false;
  dropListener: DropListener | undefined;
  private readonly gates: Array<() => void> = [];

  constructor(
    private readonly gated = false,
    readonly ended?: Promise<void>,
  ) {}

  write(frame: ReceivedFrame): void | Promise<void> {
    this.started.push(frame);
    if (!this.gated) {
      this.written.push(frame);
      return;
    }
    return new Promise((resolve) =>
      this.gates.push(() => {
        this.written.push(frame);
        resolve();
      }),
    );
  }

  /** Finishes the oldest write still running. */
  release(): void {
    const gate = this.gates.shift();
    if (!gate) throw new Error('no write is waiting');
    gate();
  }

  reportDropsTo(listener: DropListener): void {
    this.dropListener = listener;
  }

  senderGone(connectionId: number): void {
    this.gone.push(connectionId);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A write promise whose settling the test can observe without awaiting it. */
function watched(promise: Promise<void>): { done: boolean; failed: unknown } {
  const state = { done: false, failed: undefined as unknown };
  promise.then(
    () => (state.done = true),
    (error: unknown) => (state.failed = error),
  );
  return state;
}

describe('SinkSet', () => {
  it('lets a fast sink have every live frame while a slow one is still on its first', async () => {
    const slow = new TestSink(true);
    const fast = new TestSink();
    const set = new SinkSet([slow, fast]);
    // Frames arrive over several turns of the event loop, as from a socket.
    for (let seq = 0; seq < 50; seq++) {
      await set.write(frameOf(1, seq, { live: true }));
      await turn();
    }
    expect(fast.written).toHaveLength(50);
    expect(names(slow.started)).toEqual(['1:0']);
    expect(slow.written).toHaveLength(0);
    slow.release();
    await turn();
    // The slow sink's next frame is the newest, not the second.
    expect(names(slow.started)).toEqual(['1:0', '1:49']);
  });

  it('replaces a live frame per sender and per sink, keeping the senders in arrival order', async () => {
    const slow = new TestSink(true);
    const fast = new TestSink();
    const drops: SinkDrop[] = [];
    const set = new SinkSet([slow, fast], { onDrop: (drop) => drops.push(drop) });
    const sent = [frameOf(1, 0, { live: true }), frameOf(1, 1, { live: true }), frameOf(2, 0, { live: true }), frameOf(1, 2, { live: true }), frameOf(2, 1, { live: true }), frameOf(1, 3, { live: true })];
    for (const frame of sent) {
      await set.write(frame);
      await turn();
    }
    expect(names(fast.written)).toEqual(['1:0', '1:1', '2:0', '1:2', '2:1', '1:3']);
    // 1:1 was waiting ahead of 2:0: 1:3 takes its place in the line.
    for (let i = 0; i < 3; i++) {
      slow.release();
      await turn();
    }
    expect(names(slow.written)).toEqual(['1:0', '1:3', '2:1']);
    expect(drops.map((d) => [d.sink === slow ? 'slow' : 'fast', `${d.frame.connectionId}:${d.frame.seq}`, d.first])).toEqual([
      ['slow', '1:1', true],
      ['slow', '2:0', true],
      ['slow', '1:2', true],
    ]);
  });

  it('keeps up to liveDepth frames of a live sender waiting, the newest replacing the last, in order', async () => {
    const slow = new TestSink(true);
    const drops: SinkDrop[] = [];
    const set = new SinkSet([slow], { liveDepth: 3, onDrop: (drop) => drops.push(drop) });
    for (let seq = 0; seq <= 6; seq++) {
      await set.write(frameOf(1, seq, { live: true }));
      await turn();
    }
    for (let i = 0; i < 4; i++) {
      slow.release();
      await turn();
    }
    expect(names(slow.written)).toEqual(['1:0', '1:1', '1:2', '1:6']);
    expect(drops.map((d) => d.frame.seq)).toEqual([3, 4, 5]);
  });

  it('never drops a frame that is not live, and makes the caller wait while a sink has too many', async () => {
    const slow = new TestSink(true);
    const fast = new TestSink();
    const drops: SinkDrop[] = [];
    const set = new SinkSet([slow, fast], { waitingFrames: 2, onDrop: (drop) => drops.push(drop) });
    await set.write(frameOf(1, 0));
    await set.write(frameOf(1, 1));
    const third = watched(set.write(frameOf(1, 2)));
    await turn();
    // The slow sink is on 1:0 with 1:1 and 1:2 waiting: the caller must stop reading.
    expect(third.done).toBe(false);
    expect(set.holding).toBe(3);
    expect(names(fast.written)).toEqual(['1:0', '1:1', '1:2']);
    slow.release();
    await turn();
    expect(third.done).toBe(true);
    slow.release();
    await turn();
    slow.release();
    await set.flush();
    expect(names(slow.written)).toEqual(['1:0', '1:1', '1:2']);
    expect(drops).toEqual([]);
    expect(set.holding).toBe(0);
  });

  it('with everyFrame, gives every sink every live frame and makes the caller wait instead (recv --frames N)', async () => {
    const slow = new TestSink(true);
    const drops: SinkDrop[] = [];
    const set = new SinkSet([slow], { waitingFrames: 2, everyFrame: true, onDrop: (drop) => drops.push(drop) });
    await set.write(frameOf(1, 0, { live: true }));
    await set.write(frameOf(1, 1, { live: true }));
    const third = watched(set.write(frameOf(1, 2, { live: true })));
    await turn();
    // Without everyFrame 1:2 would have replaced 1:1; here the caller waits for room.
    expect(third.done).toBe(false);
    for (let i = 0; i < 3; i++) {
      slow.release();
      await turn();
    }
    await set.flush();
    expect(names(slow.written)).toEqual(['1:0', '1:1', '1:2']);
    expect(drops).toEqual([]);
  });

  it('makes the caller wait past the byte bound, live frames included', async () => {
    const slow = new TestSink(true);
    const set = new SinkSet([slow], { waitingBytes: 1000 });
    await set.write(frameOf(1, 0, { live: true, bytes: 600 }));
    await set.write(frameOf(2, 0, { live: true, bytes: 600 }));
    const third = watched(set.write(frameOf(3, 0, { live: true, bytes: 600 })));
    await turn();
    expect(third.done).toBe(false);
    slow.release();
    await turn();
    expect(third.done).toBe(true);
  });

  it('counts a frame once as dropped here, however many sinks drop it', async () => {
    const a = new TestSink(true);
    const b = new TestSink(true);
    const drops: SinkDrop[] = [];
    const set = new SinkSet([a, b], { onDrop: (drop) => drops.push(drop) });
    const frames = [0, 1, 2].map((seq) => frameOf(1, seq, { live: true }));
    for (const frame of frames) await set.write(frame);
    // A sink that drops a frame itself after taking it (a window that cannot decode it).
    a.release();
    b.release();
    await turn();
    a.dropListener!(frames[2]!);
    b.dropListener!(frames[2]!);
    expect(drops.map((d) => [d.sink === a ? 'a' : 'b', d.frame.seq, d.first])).toEqual([
      ['a', 1, true],
      ['b', 1, false],
      ['a', 2, true],
      ['b', 2, false],
    ]);
  });

  it('settles a frame (the ack) only once every sink has written or dropped it', async () => {
    const slow = new TestSink(true);
    const fast = new TestSink();
    const settled: string[] = [];
    const set = new SinkSet([slow, fast], { onSettled: (frame) => settled.push(`${frame.connectionId}:${frame.seq}`) });
    await set.write(frameOf(1, 0, { live: true }));
    await set.write(frameOf(1, 1, { live: true }));
    await turn();
    expect(settled).toEqual([]);
    // Replaced in the slow sink's queue: done with, as far as the sender is concerned.
    await set.write(frameOf(1, 2, { live: true }));
    await turn();
    expect(settled).toEqual(['1:1']);
    slow.release();
    await turn();
    expect(settled).toEqual(['1:1', '1:0']);
    slow.release();
    await set.flush();
    expect(settled).toEqual(['1:1', '1:0', '1:2']);
  });

  it('settles at once without sinks', async () => {
    const settled: ReceivedFrame[] = [];
    const set = new SinkSet([], { onSettled: (frame) => settled.push(frame) });
    await set.write(frameOf(1, 0));
    expect(settled).toHaveLength(1);
    await set.flush();
  });

  it('rejects the next write, flush and ended with a sink failure', async () => {
    const failure = new Error('disk full');
    const bad: FrameSink = { write: () => Promise.reject(failure), close: async () => {} };
    const good = new TestSink();
    const set = new SinkSet([bad, good]);
    const ended = watched(set.ended);
    await set.write(frameOf(1, 0));
    await turn();
    // Failed between frames: `ended` tells the caller even if no frame comes again.
    expect(ended.failed).toBe(failure);
    await expect(set.write(frameOf(1, 1))).rejects.toBe(failure);
    await expect(set.flush()).rejects.toBe(failure);
    await set.close();
    expect(good.closed).toBe(true);
  });

  it('rejects a write that waits for room when a sink fails meanwhile', async () => {
    const failure = new Error('reader gone');
    let fail!: (error: Error) => void;
    const bad: FrameSink = { write: () => new Promise((_, reject) => (fail = reject)), close: async () => {} };
    const set = new SinkSet([bad], { waitingFrames: 1 });
    await set.write(frameOf(1, 0));
    const waiting = set.write(frameOf(1, 1));
    fail(failure);
    await expect(waiting).rejects.toBe(failure);
  });

  it('rejects a write that throws at once, as the window does when it cannot open', async () => {
    const failure = new Error('no window');
    const bad: FrameSink = {
      write: () => {
        throw failure;
      },
      close: async () => {},
    };
    const set = new SinkSet([bad]);
    await set.write(frameOf(1, 0));
    await expect(set.flush()).rejects.toBe(failure);
  });

  it('resolves ended when a sink ends on its own, and rejects it when that sink fails', async () => {
    let quit!: () => void;
    const window = new TestSink(false, new Promise<void>((resolve) => (quit = resolve)));
    const set = new SinkSet([window, new TestSink()]);
    const ended = watched(set.ended);
    await turn();
    expect(ended.done).toBe(false);
    quit();
    await turn();
    expect(ended.done).toBe(true);

    const failure = new Error('SDL failed');
    const broken = new TestSink(false, Promise.reject(failure));
    await expect(new SinkSet([broken]).ended).rejects.toBe(failure);
  });

  it('tells every sink of a sender gone', () => {
    const a = new TestSink();
    const b = new TestSink();
    new SinkSet([a, b]).senderGone(7);
    expect([a.gone, b.gone]).toEqual([[7], [7]]);
  });

  it('on close lets go of what waits without counting drops, and does not wait for a stuck write', async () => {
    const stuck = new TestSink(true);
    const drops: SinkDrop[] = [];
    const set = new SinkSet([stuck], { onDrop: (drop) => drops.push(drop) });
    await set.write(frameOf(1, 0));
    await set.write(frameOf(1, 1));
    expect(set.holding).toBe(2);
    await set.close();
    expect(stuck.closed).toBe(true);
    expect(drops).toEqual([]);
    // Later frames are ignored, not queued.
    await set.write(frameOf(1, 2));
    stuck.release();
    await turn();
    expect(names(stuck.started)).toEqual(['1:0']);
  });
});
