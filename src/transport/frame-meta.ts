import type { FrameMeta } from '../frame/frame.js';
import type { SendOptions } from './tcp-sender.js';

/**
 * The metadata a sender puts in a frame, or undefined when metadata is switched off. Shared by
 * every transport so that a receiver reads the same fields whatever carried them.
 */
export function frameMeta(
  options: SendOptions,
  sender: { metadata?: boolean; label?: string; framesSent: number },
): FrameMeta | undefined {
  if (sender.metadata === false) return undefined;
  return {
    seq: options.seq ?? sender.framesSent,
    captureTime: options.captureTime ?? performance.timeOrigin + performance.now(),
    ...(sender.label !== undefined && { label: sender.label }),
    ...(options.name !== undefined && { name: options.name }),
    ...(options.live === true && { live: true }),
  };
}
