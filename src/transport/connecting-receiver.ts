/**
 * A receiver that connects out to its sender (`recv --connect`): the frames, limits, replies and
 * events of a TcpFrameReceiver that listens on nothing, fed by a TcpConnector that keeps a
 * connection to the sender. Connecting starts when the frames are first asked for, so that the
 * consumer is listening for the connection's events by then. When the connector gives up, the
 * frames already received are still delivered, then iterating fails with its error. A sender
 * that refuses this receiver (a TLS alert: it has a shared secret and this end none) ends it
 * the same way, with that error: connecting again would only be refused again.
 */
import { AuthError } from '../errors.js';
import type { ReceivedFrame } from '../frame/frame.js';
import type { TcpConnector } from './tcp-connector.js';
import type { TcpFrameReceiver } from './tcp-receiver.js';
import type { Receiver, ReceiverEvents } from './types.js';

export class ConnectingReceiver implements Receiver {
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly inner: TcpFrameReceiver,
    private readonly connector: TcpConnector,
  ) {
    connector.finished.then(
      () => void inner.close(),
      (error: unknown) => {
        this.failure = { error };
        void inner.close();
      },
    );
    inner.on('disconnect', ({ peer, error }) => {
      if (!(error instanceof AuthError) || this.failure) return;
      this.failure = {
        error: new AuthError(`${peer} refused this receiver (a TLS alert): it has a shared secret and this receiver none (give both the same --secret-file)`, error.code, { cause: error }),
      };
      connector.close();
    });
  }

  /** The sender's port: nothing is bound here. */
  get port(): number {
    return this.connector.port;
  }

  get queued(): number {
    return this.inner.queued;
  }

  acknowledge(frame: ReceivedFrame): void {
    this.inner.acknowledge(frame);
  }

  async close(): Promise<void> {
    this.connector.close();
    await this.inner.close();
  }

  on<E extends keyof ReceiverEvents>(event: E, listener: (...args: ReceiverEvents[E]) => void): this {
    if (event === 'disconnect') {
      // The refusal is what iterating fails with: said once, as this receiver's end.
      const said = listener as (...args: ReceiverEvents['disconnect']) => void;
      this.inner.on('disconnect', (info) => {
        if (!(info.error instanceof AuthError)) said(info);
      });
    } else (this.inner as Receiver).on(event, listener);
    return this;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ReceivedFrame> {
    this.connector.start();
    for await (const frame of this.inner) yield frame;
    if (this.failure) throw this.failure.error;
  }
}
