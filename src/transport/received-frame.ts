import { readMetadata } from '../frame/metadata.js';
import type { LossCounters, ReceivedFrame } from './types.js';

/** What a receiver knows of one sender; `label` is learnt from the sender's metadata. */
export interface SenderState {
  connectionId: number;
  peer: string;
  label?: string;
}

/**
 * A complete payload as every receiver delivers it: metadata read from the JPEG, the sender
 * named by its label once it has sent one, `seq` from the metadata or else `fallbackSeq`.
 */
export function receivedFrame(jpeg: Buffer, sender: SenderState, fallbackSeq: number, loss?: LossCounters): ReceivedFrame {
  const meta = readMetadata(jpeg);
  if (meta?.label !== undefined) sender.label = meta.label;
  return {
    sender: sender.label ?? sender.peer,
    peer: sender.peer,
    connectionId: sender.connectionId,
    seq: meta?.seq ?? fallbackSeq,
    jpeg,
    receivedAt: performance.timeOrigin + performance.now(),
    ...(meta && { meta }),
    ...(loss && { loss }),
  };
}
