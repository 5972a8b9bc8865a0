import type { ReceivedFrame } from '../../frame/frame.js';

/**
 * How far a sender's capture times may run from their arrival times before they are not
 * believed: a sender's clock that jumped, or a peer sending nonsense, must not put a frame
 * hours into a file. A transfer paused by a slow disk stays far within it.
 */
export const MAX_CLOCK_SKEW_MS = 60_000;

/**
 * One sender's frames on one time line, in whole milliseconds from its first frame: capture
 * times where the sender gave them (so a recording keeps the camera's own timing, not the
 * network's jitter), arrival times otherwise. Always increasing, as players need.
 */
export class Timeline {
  private origin: { capture: number | undefined; received: number } | undefined;
  private last = -1;

  time(frame: ReceivedFrame): number {
    const capture = frame.captureTime;
    this.origin ??= { capture, received: frame.receivedAt };
    const arrived = frame.receivedAt - this.origin.received;
    let time = arrived;
    if (capture !== undefined && this.origin.capture !== undefined) {
      const captured = capture - this.origin.capture;
      if (Number.isFinite(captured) && Math.abs(captured - arrived) <= MAX_CLOCK_SKEW_MS) time = captured;
    }
    this.last = Math.max(Math.round(time), this.last + 1);
    return this.last;
  }
}
