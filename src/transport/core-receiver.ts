/**
 * The part of a receiver that is the same for every transport: its frames, its replies and its
 * queue are the core's, so each transport only turns its bytes into frames for the core.
 */
import { EventEmitter } from 'node:events';
import type { ReceivedFrame } from '../frame/frame.js';
import type { ReceiverCore, CoreSender } from './receiver-core.js';
import type { Receiver, ReceiverEvents } from './types.js';

export abstract class CoreReceiver<S extends CoreSender> extends EventEmitter<ReceiverEvents> implements Pick<Receiver, 'acknowledge'> {
  protected abstract readonly core: ReceiverCore<S>;

  /** Frames waiting for the consumer. */
  get queued(): number {
    return this.core.queued;
  }

  [Symbol.asyncIterator](): AsyncIterator<ReceivedFrame> {
    return this.core[Symbol.asyncIterator]();
  }

  /** Replies to the frame's sender (with `ackWhen: 'manual'`), once per frame; a no-op without an ack text. */
  acknowledge(frame: ReceivedFrame): void {
    this.core.acknowledge(frame);
  }
}
