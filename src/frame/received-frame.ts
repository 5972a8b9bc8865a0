import { imageInfo } from './image-info.js';
import { readMetadata } from './metadata.js';
import type { LossCounters, ReceivedFrame } from './frame.js';

/** What a receiver knows of one sender; `label` is learnt from the sender's metadata. */
export interface SenderState {
  connectionId: number;
  peer: string;
  label?: string;
}

/**
 * A complete payload as every receiver delivers it: its type and size and vstream's metadata
 * read here once, the sender named by its label once it has sent one, `seq` from the metadata
 * or else `fallbackSeq`.
 */
export function receivedFrame(data: Buffer, sender: SenderState, fallbackSeq: number, loss?: LossCounters): ReceivedFrame {
  const info = imageInfo(data);
  const meta = info.type === 'other' ? undefined : readMetadata(data);
  if (meta?.label !== undefined) sender.label = meta.label;
  return {
    data,
    ...info,
    sender: sender.label ?? sender.peer,
    peer: sender.peer,
    connectionId: sender.connectionId,
    seq: meta?.seq ?? fallbackSeq,
    receivedAt: performance.timeOrigin + performance.now(),
    ...(meta && { meta, captureTime: meta.captureTime }),
    ...(meta?.name !== undefined && { name: meta.name }),
    ...(loss && { loss }),
  };
}
