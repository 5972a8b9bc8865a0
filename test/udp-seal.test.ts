import { describe, it, expect } from 'vitest';
import { Secret } from '../src/secret/secret.js';
import { DatagramOpener, DatagramSealer, REPLAY_WINDOW, ReplayWindow, SEAL_OVERHEAD, SEALED_HEADER_SIZE } from '../src/frame/udp-seal.js';
import { endDatagram, splitFrame } from '../src/frame/udp-datagram.js';

const secret = Secret.fromText('correct horse battery staple 42', '--secret');
const other = Secret.fromText('another secret of enough bytes', '--secret');
const plain = () => splitFrame([Buffer.from('a frame of some bytes')], { streamId: 7, frameSeq: 0, packetSize: 1200 })[0]!;

describe('DatagramSealer / DatagramOpener', () => {
  it('round-trips, adds exactly the overhead, and hides the plain datagram', () => {
    const sealer = new DatagramSealer(secret);
    const parts = plain();
    const sealed = sealer.seal(parts);
    const original = Buffer.concat(parts);
    expect(sealed.length).toBe(original.length + SEAL_OVERHEAD);
    expect(sealed.includes(Buffer.from('a frame of'))).toBe(false);
    const opened = new DatagramOpener(secret).open(sealed);
    expect(opened.plain).toEqual(original);
  });

  it('never repeats a nonce: the counter goes up by one per datagram', () => {
    const sealer = new DatagramSealer(secret);
    const nonces = new Set<string>();
    for (let i = 0; i < 2000; i++) nonces.add(sealer.seal([endDatagram(1, i)]).subarray(20, SEALED_HEADER_SIZE).toString('hex'));
    expect(nonces.size).toBe(2000);
  });

  it('drops a wrong secret, every flipped byte, a plain datagram, and counts each', () => {
    const sealed = new DatagramSealer(secret).seal(plain());
    const opener = new DatagramOpener(secret);
    expect(new DatagramOpener(other).open(sealed).drop).toBe('forged');
    for (let at = 3; at < sealed.length; at++) {
      const altered = Buffer.from(sealed);
      altered[at]! ^= 0x01;
      expect(opener.open(altered).drop, `byte ${at}`).toBe('forged');
    }
    expect(opener.open(Buffer.concat(plain())).drop).toBe('plain');
    expect(opener.open(sealed.subarray(0, SEAL_OVERHEAD - 1)).drop).toBe('forged');
    expect(opener.drops).toEqual({ plain: 1, forged: sealed.length - 3 + 1, replayed: 0 });
    // Forgeries left no state: the genuine datagram still opens, once.
    expect(opener.open(sealed).plain).toBeDefined();
    expect(opener.open(sealed).drop).toBe('replayed');
  });

  it('accepts reordered datagrams inside the window once, drops replays and ones older than the window', () => {
    const sealer = new DatagramSealer(secret);
    const all = Array.from({ length: REPLAY_WINDOW + 10 }, (_, i) => sealer.seal([endDatagram(1, i)]));
    const opener = new DatagramOpener(secret);
    expect(opener.open(all[5]!).plain).toBeDefined();
    expect(opener.open(all[2]!).plain).toBeDefined();
    expect(opener.open(all[2]!).drop).toBe('replayed');
    expect(opener.open(all[REPLAY_WINDOW + 9]!).plain).toBeDefined();
    // REPLAY_WINDOW + 9 - 9 = REPLAY_WINDOW behind: outside.
    expect(opener.open(all[9]!).drop).toBe('replayed');
    expect(opener.open(all[10]!).plain).toBeDefined();
    expect(opener.open(all[5]!).drop).toBe('replayed');
  });
});

describe('ReplayWindow', () => {
  it('matches a set of seen counters inside the window', () => {
    const window = new ReplayWindow();
    const seen = new Set<number>();
    let highest = -1;
    let state = 12345;
    for (let i = 0; i < 20_000; i++) {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      const counter = Math.max(0, highest + (state % 300) - 250);
      const expected = !seen.has(counter) && (counter > highest || highest - counter < REPLAY_WINDOW);
      expect(window.fresh(counter)).toBe(expected);
      if (expected) {
        window.accept(counter);
        seen.add(counter);
        highest = Math.max(highest, counter);
      }
    }
  });
});
