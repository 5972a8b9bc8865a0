/**
 * Which sender gives up its place when a new one arrives at a full table (TCP connections, UDP
 * streams, legacy UDP sources). Anyone can open a connection or name a new stream, so a newcomer
 * may only push out a sender that has proved nothing yet (a slowloris, a flood of made-up stream
 * ids only displaces itself), or one that stopped delivering; never one that delivers frames.
 */

/**
 * At the limit, a sender that has delivered frames may make room for a newcomer only once it has
 * delivered none for this long (a sender restarted under a new id or port leaves one behind).
 */
export const EVICT_IDLE_MS = 2000;

/**
 * The sender to replace, from `oldestFirst` (least recently active first): the first that has
 * `delivered` nothing, else the first that is `stale`. Undefined: refuse the newcomer.
 */
export function senderToReplace<T>(oldestFirst: Iterable<T>, delivered: (sender: T) => boolean, stale: (sender: T) => boolean = () => false): T | undefined {
  let staleOne: T | undefined;
  for (const sender of oldestFirst) {
    if (!delivered(sender)) return sender;
    if (staleOne === undefined && stale(sender)) staleOne = sender;
  }
  return staleOne;
}
