/**
 * A sink hears that a sender left only after it has written that sender's frames still waiting
 * for it: `--record` finishes the sender's file then, and the file holds every frame.
 */
import { describe, expect, it } from 'vitest';
import type { ReceivedFrame } from '../src/frame/frame.js';
import { SinkSet } from '../src/sink/sink-set.js';
import type { FrameSink } from '../src/sink/types.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function frameOf(connectionId: number, seq: number): ReceivedFrame {
  return { data: Buffer.alloc(10), type: 'other', sender: `cam${connectionId}`, peer: '127.0.0.1:1', connectionId, seq, receivedAt: 0 };
}

/** Writes finish only when the test releases them; every event is logged in order. */
class GatedSink implements FrameSink {
  readonly events: string[] = [];
  private readonly gates: Array<() => void> = [];

  write(frame: ReceivedFrame): Promise<void> {
    return new Promise((resolve) =>
      this.gates.push(() => {
        this.events.push(`wrote ${frame.connectionId}:${frame.seq}`);
        resolve();
      }),
    );
  }

  senderGone(connectionId: number): void {
    this.events.push(`gone ${connectionId}`);
  }

  release(): void {
    this.gates.shift()?.();
  }

  async close(): Promise<void> {}
}

describe('SinkSet.senderGone', () => {
  it('reaches a sink after the frames of that sender it still had to write, and at once for one with none', async () => {
    const slow = new GatedSink();
    const fast: string[] = [];
    const quick: FrameSink = { write: () => {}, senderGone: (id) => void fast.push(`gone ${id}`), close: async () => {} };
    const set = new SinkSet([slow, quick], { waitingFrames: 10 });
    void set.write(frameOf(1, 0));
    void set.write(frameOf(1, 1));
    void set.write(frameOf(2, 0));
    await turn();
    set.senderGone(1);
    expect(fast).toEqual(['gone 1']);
    expect(slow.events).toEqual([]);
    slow.release();
    await turn();
    expect(slow.events).toEqual(['wrote 1:0']);
    slow.release();
    await turn();
    expect(slow.events).toEqual(['wrote 1:0', 'wrote 1:1', 'gone 1']);
    slow.release();
    await turn();
    set.senderGone(2);
    expect(slow.events).toEqual(['wrote 1:0', 'wrote 1:1', 'gone 1', 'wrote 2:0', 'gone 2']);
    await set.close();
  });
});
