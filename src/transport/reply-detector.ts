/**
 * Whether one TCP sender wants a reply after each frame, learnt from how it sends. A sender
 * that waits for a reply (stop-and-wait, like the reference C++ client) sends nothing after a
 * frame until it hears from us; a sender that never reads replies (the reference Python loop)
 * sends its next frame at once. Replying to the second kind is harmful: unread bytes in its
 * socket make its close() a reset, which throws away frames it had not transmitted yet. So a
 * sender is never written to until it has shown that it waits.
 *
 *   learning --(quiet for quietMs after a frame, or its metadata says it waits)--> waiting
 *   learning --(bytes of a next frame before that)------------------------------> streaming
 *   waiting  --(bytes of a next frame before our reply to the last was written)--> streaming
 *   waiting  --(replies pile up unread)----------------------------------------> stopped
 *
 * With `mode: 'always'` it starts in waiting and only ever stops for unread replies. No sockets
 * here: the transport reports what it read and does the writing.
 */

/**
 * How long a sender must stay silent after a frame to count as waiting for a reply: the delay a
 * waiting sender sees on its first frame. Long enough that a sender streaming at 4 frames/s or
 * more sends its next frame first, short enough to be a one-time hiccup.
 */
export const REPLY_QUIET_MS = 250;

/**
 * Replies not yet taken by the peer's kernel past which we stop replying: a peer that never
 * reads would otherwise make us hold every reply we owe it.
 */
export const MAX_UNREAD_REPLY_BYTES = 4096;

export type ReplyState = 'learning' | 'waiting' | 'streaming' | 'stopped';

export interface ReplyDetectorOptions {
  /** `'auto'` learns (starts in learning); `'always'` replies to every frame (starts in waiting). */
  mode: 'auto' | 'always';
  /** Writes one reply on the connection now. */
  write(): void;
  /** Bytes written to the connection that its peer has not taken yet. */
  unreadBytes(): number;
  /** False while the receiver is not reading the connection: its silence then says nothing. */
  reading(): boolean;
  /** Replies stopped: `unread` bytes of them were still waiting. Called once. */
  onStopped(unread: number): void;
  /** Default REPLY_QUIET_MS. */
  quietMs?: number;
  /**
   * Runs `fn` once `ms` have passed; returns a way to cancel it. Default: a timer, then
   * `setImmediate`, so that bytes that arrived while the event loop was busy are read first
   * and can still prove the sender was streaming.
   */
  afterQuiet?(fn: () => void, ms: number): () => void;
}

export class ReplyDetector {
  private current: ReplyState;
  /** A frame ended and no reply to it has been written yet. */
  private unanswered = false;
  /** Replies asked for while learning, written if the sender turns out to wait. */
  private held = 0;
  private cancelQuiet: (() => void) | undefined;
  private readonly quietMs: number;
  private readonly afterQuiet: (fn: () => void, ms: number) => () => void;

  constructor(private readonly options: ReplyDetectorOptions) {
    this.current = options.mode === 'always' ? 'waiting' : 'learning';
    this.quietMs = options.quietMs ?? REPLY_QUIET_MS;
    this.afterQuiet = options.afterQuiet ?? timerThenImmediate;
  }

  get state(): ReplyState {
    return this.current;
  }

  /** Replies held while learning. */
  get heldReplies(): number {
    return this.held;
  }

  /** A frame is complete. Call it before the frame is handed on, so that a reply to it finds it counted. */
  frameEnded(): void {
    // This frame's bytes came after the previous frame: before its reply, if it is still owed.
    this.bytesArrived();
    this.unanswered = true;
    if (this.current === 'learning') this.armQuiet();
  }

  /** Bytes of a next frame were read (the connection holds part of a frame now). */
  bytesArrived(): void {
    if (!this.unanswered || this.options.mode === 'always') return;
    if (this.current === 'learning' || this.current === 'waiting') this.become('streaming');
  }

  /** The sender says, in its frame's metadata, that it waits for a reply after each frame. */
  saysItWaits(): void {
    if (this.current === 'learning') this.become('waiting');
  }

  /** A frame is to be replied to (the consumer is done with it): written, held while learning, or not at all. */
  reply(): void {
    if (this.current === 'learning') this.held += 1;
    else if (this.current === 'waiting') this.send();
  }

  /** The receiver reads the connection again: its silence only counts from now. */
  resumed(): void {
    if (this.current === 'learning' && this.unanswered) this.armQuiet();
  }

  /**
   * The receiver is closing the connection (`recv --frames N` reached): a sender still silent
   * since its frame gets the replies held for it, or a waiting one would never hear of its
   * last frame.
   */
  finish(): void {
    if (this.current === 'learning' && this.unanswered && this.held > 0) this.become('waiting');
    this.dispose();
  }

  /** The connection is gone. */
  dispose(): void {
    this.cancelQuiet?.();
    this.cancelQuiet = undefined;
  }

  private armQuiet(): void {
    this.cancelQuiet?.();
    this.cancelQuiet = this.afterQuiet(() => {
      this.cancelQuiet = undefined;
      // Paused, it could not have sent anything we saw; `resumed` starts the clock again.
      if (this.current === 'learning' && this.unanswered && this.options.reading()) this.become('waiting');
    }, this.quietMs);
  }

  private become(state: ReplyState): void {
    this.current = state;
    this.dispose();
    if (state === 'waiting') {
      const held = this.held;
      this.held = 0;
      for (let i = 0; i < held && this.current === 'waiting'; i++) this.send();
    } else {
      this.held = 0;
    }
  }

  private send(): void {
    const unread = this.options.unreadBytes();
    if (unread > MAX_UNREAD_REPLY_BYTES) {
      this.become('stopped');
      this.options.onStopped(unread);
      return;
    }
    this.options.write();
    this.unanswered = false;
  }
}

function timerThenImmediate(fn: () => void, ms: number): () => void {
  let immediate: NodeJS.Immediate | undefined;
  const timer = setTimeout(() => {
    immediate = setImmediate(fn);
  }, ms);
  return () => {
    clearTimeout(timer);
    if (immediate) clearImmediate(immediate);
  };
}
