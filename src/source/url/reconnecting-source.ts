/**
 * A live source over connections that end: a camera's HTTP stream, an RTSP camera through
 * ffmpeg. Each connection is a session of frames; when one ends or fails, the source connects
 * again with the backoff of src/flow/backoff.ts, for `retryMs` per outage (default: forever),
 * saying one line when the outage starts and one when frames come again. Frames go through a
 * newest-wins slot, as every live source's do: a busy sender gets the newest, never a queue.
 *
 * The first connection is made before `open` returns, so a wrong address, a 404 or a page that
 * is not a stream fails at once with its own line and exit code, and so does a stream that
 * fails before its first frame (garbage, a part over the limit); only `retryMs` given
 * explicitly makes the start wait, for a server that is not up yet.
 */
import { NetworkError, VstreamError } from '../../errors.js';
import type { Frame } from '../../frame/frame.js';
import { isRetryable, RetrySchedule } from '../../flow/backoff.js';
import { NewestWinsQueue } from '../../flow/newest-wins-queue.js';
import type { FrameSource } from '../types.js';

/** One connection's frames. */
export interface Session {
  frames: AsyncIterable<Frame>;
  close(): Promise<void>;
  /**
   * Read once the frames ended: set when the server gives one image per request (a snapshot
   * URL), so the end is not an outage and the next request comes after this many milliseconds.
   */
  pollAfterMs?: number;
}

export interface ReconnectingSourceOptions {
  description: string;
  /** Who is reached, for the lines (`http://cam/stream`, without credentials). */
  address: string;
  connect(): Promise<Session>;
  /** How long one outage may last; undefined: forever, and the start does not wait. */
  retryMs: number | undefined;
  /** No frame for this long ends the connection as an outage. */
  frameTimeoutMs: number;
  say(line: string): void;
}

export async function openReconnecting(options: ReconnectingSourceOptions): Promise<FrameSource> {
  let first: Session | undefined;
  let failure: unknown;
  try {
    first = await options.connect();
  } catch (error) {
    if (options.retryMs === undefined || options.retryMs === 0 || !isRetryable(error)) throw error;
    failure = error;
  }
  return new ReconnectingSource(options, first, failure);
}

class ReconnectingSource implements FrameSource {
  readonly live = true;
  readonly description: string;
  private readonly slot = new NewestWinsQueue<0, Frame>();
  private closed = false;
  private current: Session | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly options: ReconnectingSourceOptions,
    first: Session | undefined,
    failure: unknown,
  ) {
    this.description = options.description;
    // A failure of the loop itself ends the stream with it rather than going unheard.
    this.run(first, failure).catch((error: unknown) => this.slot.fail(error));
  }

  get dropped(): number {
    return this.slot.dropped;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Frame> {
    try {
      for await (const frame of this.slot) yield frame;
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.slot.close();
    this.wake?.();
    await this.current?.close();
  }

  private async run(first: Session | undefined, startFailure: unknown): Promise<void> {
    const { address, retryMs, say } = this.options;
    /** Set while frames are missing: from the first failure to the next frame. */
    let outage: RetrySchedule | undefined;
    let hadFrames = false;
    let failure = startFailure;
    let session = first;
    if (failure !== undefined) {
      outage = new RetrySchedule(retryMs ?? Infinity);
      say(`${messageOf(failure)}; retrying (--retry)`);
    }
    for (;;) {
      /** Set when the session was a snapshot that ended as it should. */
      let pollAfterMs: number | undefined;
      if (session) {
        this.current = session;
        try {
          for await (const frame of this.timed(session)) {
            if (this.closed) break;
            if (outage) say(hadFrames ? `receiving from ${address} again` : `receiving from ${address}`);
            outage = undefined;
            hadFrames = true;
            this.slot.push(0, frame, { live: true });
          }
          if (session.pollAfterMs === undefined) failure = new NetworkError(`${address} ended the stream`, 'ERR_CONNECTION_CLOSED');
          else pollAfterMs = session.pollAfterMs;
        } catch (error) {
          failure = error;
        } finally {
          await session.close();
          this.current = undefined;
        }
      }
      if (this.closed) return;
      if (pollAfterMs !== undefined) {
        await this.pause(pollAfterMs);
      } else {
        if (!outage) {
          // A stream that never gave a frame is as wrong as one that did not answer.
          if (retryMs === 0 || (retryMs === undefined && !hadFrames)) return this.slot.fail(failure);
          outage = new RetrySchedule(retryMs ?? Infinity);
          say(`${messageOf(failure)}; reconnecting (--retry)`);
        }
        const delay = outage.next();
        if (delay === undefined) {
          const seconds = (retryMs ?? 0) / 1000;
          return this.slot.fail(new NetworkError(`${address}: no stream for ${seconds} s (--retry); last: ${messageOf(failure)}`, 'ERR_CONNECTION_CLOSED'));
        }
        await this.pause(delay);
      }
      if (this.closed) return;
      try {
        session = await this.connectOrFail();
      } catch (error) {
        session = undefined;
        failure = error;
      }
    }
  }

  private async connectOrFail(): Promise<Session> {
    const session = await this.options.connect();
    if (this.closed) {
      await session.close();
      throw new NetworkError('closed', 'ERR_CONNECTION_CLOSED');
    }
    return session;
  }

  /** The session's frames; one that sends none for `frameTimeoutMs` is closed as an outage. */
  private async *timed(session: Session): AsyncGenerator<Frame> {
    const { frameTimeoutMs, address } = this.options;
    let silent: NetworkError | undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        silent = new NetworkError(`${address} sent no frame for ${frameTimeoutMs / 1000} s`, 'ERR_TIMEOUT');
        void session.close();
      }, frameTimeoutMs);
    };
    arm();
    try {
      for await (const frame of session.frames) {
        arm();
        yield frame;
      }
    } catch (error) {
      throw silent ?? error;
    } finally {
      clearTimeout(timer);
    }
    if (silent) throw silent;
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

function messageOf(error: unknown): string {
  return error instanceof VstreamError || error instanceof Error ? error.message : String(error);
}
