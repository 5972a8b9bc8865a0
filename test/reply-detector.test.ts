import { describe, expect, it } from 'vitest';
import { MAX_UNREAD_REPLY_BYTES, ReplyDetector, type ReplyDetectorOptions } from '../src/transport/reply-detector.js';
import { frameMeta } from '../src/frame/frame-meta.js';
import { metadataSegment, readMetadata } from '../src/frame/metadata.js';
import { payloadParts } from '../src/frame/payload.js';
import { makeJpeg } from './helpers/jpeg.js';

/** A detector whose quiet time passes when the test says so, counting what it writes. */
function fake(options: Partial<ReplyDetectorOptions> = {}) {
  const state = { writes: 0, unread: 0, reading: true, stopped: [] as number[] };
  let quiet: (() => void) | undefined;
  const detector = new ReplyDetector({
    mode: 'auto',
    write: () => {
      state.writes += 1;
    },
    unreadBytes: () => state.unread,
    reading: () => state.reading,
    onStopped: (unread) => state.stopped.push(unread),
    afterQuiet: (fn) => {
      quiet = fn;
      return () => {
        quiet = undefined;
      };
    },
    ...options,
  });
  return {
    detector,
    state,
    /** The quiet time passes; false when no quiet time was being waited for. */
    quietPasses(): boolean {
      const fn = quiet;
      quiet = undefined;
      fn?.();
      return fn !== undefined;
    },
  };
}

describe('ReplyDetector, auto', () => {
  it('takes a sender silent after its first frame for a waiting one: the reply held meanwhile is written then, and every later one at once', () => {
    const { detector, state, quietPasses } = fake();
    expect(detector.state).toBe('learning');
    detector.frameEnded();
    detector.reply();
    expect(state.writes).toBe(0);
    expect(detector.heldReplies).toBe(1);
    expect(quietPasses()).toBe(true);
    expect(detector.state).toBe('waiting');
    expect(state.writes).toBe(1);
    for (let i = 0; i < 3; i++) {
      detector.bytesArrived();
      detector.frameEnded();
      detector.reply();
    }
    expect(state.writes).toBe(4);
    expect(detector.state).toBe('waiting');
  });

  it('replies to a waiting sender whose frame the consumer finishes after the quiet time', () => {
    const { detector, state, quietPasses } = fake();
    detector.frameEnded();
    quietPasses();
    expect(detector.state).toBe('waiting');
    expect(state.writes).toBe(0);
    detector.reply();
    expect(state.writes).toBe(1);
  });

  it('takes a sender whose next frame begins before the quiet time for a streaming one, and never writes to it', () => {
    const { detector, state, quietPasses } = fake();
    detector.frameEnded();
    detector.reply();
    detector.bytesArrived();
    expect(detector.state).toBe('streaming');
    expect(detector.heldReplies).toBe(0);
    expect(quietPasses()).toBe(false);
    for (let i = 0; i < 5; i++) {
      detector.frameEnded();
      detector.reply();
    }
    expect(state.writes).toBe(0);
  });

  it('takes two frames read back to back for streaming', () => {
    const { detector, state } = fake();
    detector.frameEnded();
    detector.frameEnded();
    detector.reply();
    detector.reply();
    expect(detector.state).toBe('streaming');
    expect(state.writes).toBe(0);
  });

  it('says nothing of bytes of the first frame', () => {
    const { detector } = fake();
    detector.bytesArrived();
    detector.bytesArrived();
    expect(detector.state).toBe('learning');
  });

  it('turns a waiting sender into a streaming one when its next frame comes before the reply to the last', () => {
    const { detector, state, quietPasses } = fake();
    detector.frameEnded();
    detector.reply();
    quietPasses();
    detector.frameEnded();
    detector.bytesArrived();
    expect(detector.state).toBe('streaming');
    detector.reply();
    expect(state.writes).toBe(1);
  });

  it('does not count quiet while the receiver is not reading; the clock starts again on resume', () => {
    const { detector, state, quietPasses } = fake();
    detector.frameEnded();
    state.reading = false;
    expect(quietPasses()).toBe(true);
    expect(detector.state).toBe('learning');
    state.reading = true;
    detector.resumed();
    detector.bytesArrived();
    expect(detector.state).toBe('streaming');
  });

  it('a resume before the quiet time passed restarts it', () => {
    const { detector, quietPasses } = fake();
    detector.frameEnded();
    detector.resumed();
    expect(quietPasses()).toBe(true);
    expect(detector.state).toBe('waiting');
  });

  it('believes a sender that says it waits, from its first frame', () => {
    const { detector, state, quietPasses } = fake();
    detector.frameEnded();
    detector.reply();
    detector.saysItWaits();
    expect(detector.state).toBe('waiting');
    expect(state.writes).toBe(1);
    expect(quietPasses()).toBe(false);
  });

  it('writes the replies held for a sender still silent when the receiver closes the connection, and none for one that streamed', () => {
    const silent = fake();
    silent.detector.frameEnded();
    silent.detector.reply();
    silent.detector.finish();
    expect(silent.state.writes).toBe(1);
    expect(silent.quietPasses()).toBe(false);
    const streaming = fake();
    streaming.detector.frameEnded();
    streaming.detector.reply();
    streaming.detector.bytesArrived();
    streaming.detector.finish();
    expect(streaming.state.writes).toBe(0);
  });

  it('stops replying, once, when replies pile up unread', () => {
    const { detector, state, quietPasses } = fake();
    detector.frameEnded();
    quietPasses();
    state.unread = MAX_UNREAD_REPLY_BYTES + 1;
    detector.reply();
    detector.frameEnded();
    detector.reply();
    expect(detector.state).toBe('stopped');
    expect(state.writes).toBe(0);
    expect(state.stopped).toEqual([MAX_UNREAD_REPLY_BYTES + 1]);
  });
});

describe('ReplyDetector, always', () => {
  it('replies to every frame, back to back or not, from the first', () => {
    const { detector, state, quietPasses } = fake({ mode: 'always' });
    expect(detector.state).toBe('waiting');
    for (let i = 0; i < 4; i++) {
      detector.frameEnded();
      detector.bytesArrived();
      detector.reply();
    }
    expect(state.writes).toBe(4);
    expect(quietPasses()).toBe(false);
  });

  it('still stops when replies pile up unread', () => {
    const { detector, state } = fake({ mode: 'always' });
    state.unread = MAX_UNREAD_REPLY_BYTES + 100;
    detector.frameEnded();
    detector.reply();
    expect(detector.state).toBe('stopped');
    expect(state.stopped).toHaveLength(1);
  });
});

describe('ReplyDetector, real timers', () => {
  it('decides after the quiet time without a fake clock', async () => {
    let wrote!: () => void;
    const written = new Promise<void>((resolve) => (wrote = resolve));
    const detector = new ReplyDetector({ mode: 'auto', quietMs: 20, write: () => wrote(), unreadBytes: () => 0, reading: () => true, onStopped: () => {} });
    detector.frameEnded();
    detector.reply();
    await written;
    expect(detector.state).toBe('waiting');
    detector.dispose();
  });
});

describe('the waitsForReply metadata field', () => {
  it('is written for a sender that waits, read back, and absent otherwise', async () => {
    const jpeg = await makeJpeg();
    const waiting = frameMeta(jpeg, { seq: 3, waitAck: true })!;
    expect(waiting.waitsForReply).toBe(true);
    expect(metadataSegment(waiting).toString('latin1')).toContain('"waitsForReply":true');
    expect(readMetadata(Buffer.concat(payloadParts(jpeg, waiting)))).toMatchObject({ seq: 3, waitsForReply: true });
    const streaming = frameMeta(jpeg, { seq: 4 })!;
    expect(readMetadata(Buffer.concat(payloadParts(jpeg, streaming)))?.waitsForReply).toBeUndefined();
  });
});
