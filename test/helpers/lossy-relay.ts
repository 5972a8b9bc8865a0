/**
 * The lossy UDP relay for tests: the implementation is tools/lossy-relay.mjs, shared with
 * `npm run bench`; this adds vstream's datagram parser so that the relay records frames.
 */
import { LossyRelay, type LossyRelayOptions } from '../../tools/lossy-relay.mjs';
import { parseDatagram } from '../../src/frame/udp-datagram.js';

export { LossyRelay, mulberry32, type ExpectedStream, type Loss } from '../../tools/lossy-relay.mjs';

/** A relay towards `target` that parses vstream datagrams (frames up to 1 GiB). */
export function startRelay(options: Omit<LossyRelayOptions, 'parse'>): Promise<LossyRelay> {
  return LossyRelay.start({ ...options, parse: (datagram) => parseDatagram(datagram, 2 ** 30) });
}
