import { imageInfo } from './image-info.js';
import { readMetadata } from './metadata.js';
import type { FrameMeta, LossCounters, ReceivedFrame } from './frame.js';

/** What a receiver knows of one sender; `label` is learnt from the sender's metadata. */
export interface SenderState {
  connectionId: number;
  peer: string;
  label?: string;
}

/**
 * A complete payload as every receiver delivers it: its type and size and vstream's metadata
 * read here once, the sender named by its label once it has sent one, `seq` from the metadata
 * or else `fallbackSeq`. `given` is metadata the transport learnt itself (a folder transfer's
 * messages): it takes the place of the payload's, since the payload is then a file as it was.
 */
export function receivedFrame(data: Buffer, sender: SenderState, fallbackSeq: number, loss?: LossCounters, given?: FrameMeta): ReceivedFrame {
  const info = imageInfo(data);
  const meta = given ?? (info.type === 'other' ? undefined : readMetadata(data));
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
