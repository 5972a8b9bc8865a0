import { describe, expect, it } from 'vitest';
import type { ReceivedFrame } from '../src/frame/frame.js';
import { MAX_GONE_SENDERS, SenderBook } from '../src/cli/sender-book.js';

function frameOf(connectionId: number, seq: number, droppedBefore?: number): ReceivedFrame {
  return {
    data: Buffer.alloc(10),
    type: 'other',
    sender: `cam${connectionId}`,
    peer: '127.0.0.1:1',
    connectionId,
    seq,
    receivedAt: 0,
    meta: { seq, captureTime: 0, live: true },
    ...(droppedBefore !== undefined && { droppedBefore }),
  };
}

describe('SenderBook drops here', () => {
  it('adds the sinks\' drops to the receiver\'s, apart from the sender\'s gaps', () => {
    const book = new SenderBook();
    book.record(frameOf(1, 0));
    // Two frames the receiver replaced, one the sender never sent.
    book.record(frameOf(1, 4, 2));
    book.countDropped(frameOf(1, 4));
    expect(book.totals()).toMatchObject({ senderDropped: 1, sinkDropped: 3 });
    expect(book.get(1)!.stats.dropped).toBe(4);
  });

  it('keeps counting a sender folded into the totals', () => {
    const book = new SenderBook();
    book.record(frameOf(1, 0));
    book.markGone(1);
    for (let id = 2; id <= MAX_GONE_SENDERS + 1; id++) {
      book.record(frameOf(id, 0));
      book.markGone(id);
    }
    expect(book.get(1)).toBeUndefined();
    // A window that drops sender 1's last frame after the sender was folded away.
    book.countDropped(frameOf(1, 0));
    expect(book.totals()).toMatchObject({ senders: MAX_GONE_SENDERS + 1, sinkDropped: 1 });
  });
});
