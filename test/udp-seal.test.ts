import { describe, it, expect } from 'vitest';
import { Secret } from '../src/secret/secret.js';
import { DatagramOpener, DatagramSealer, REPLAY_WINDOW, ReplayWindow, SEAL_OVERHEAD, SEALED_HEADER_SIZE } from '../src/frame/udp-seal.js';
import { endDatagram, splitFrame } from '../src/frame/udp-datagram.js';
import { caseRandom } from '../tools/fuzz/cases.mjs';

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

describe('DatagramOpener against seeded hostile datagrams', () => {
  // FUZZ_SEED / FUZZ_CASES as for the receivers' fuzzer; each case is a function of both.
  const seed = Number(process.env.FUZZ_SEED ?? 1);
  const cases = Number(process.env.FUZZ_CASES ?? 20_000);

  it(`opens every genuine datagram once and nothing else (${cases} cases, seed ${seed})`, () => {
    const senders = [new DatagramSealer(secret), new DatagramSealer(secret), new DatagramSealer(other)];
    const opener = new DatagramOpener(secret);
    /** The last 64 sealed, each with whether its sender has this secret. */
    const sent: { bytes: Buffer; good: boolean }[] = [];
    let genuine = 0;
    let opened = 0;
    const openedOnce = new Set<string>();
    for (let index = 0; index < cases; index++) {
      const r = caseRandom(seed, index);
      const int = (n: number) => Math.floor(r() * n);
      const from = int(senders.length);
      const fresh = senders[from]!.seal(splitFrame([Buffer.alloc(1 + int(900), index & 0xff)], { streamId: from, frameSeq: index, packetSize: 1200 })[0]!);
      sent.push({ bytes: fresh, good: from !== 2 });
      if (sent.length > 64) sent.shift();
      const base = sent[int(sent.length)]!.bytes;
      const kind = int(8);
      let datagram: Buffer;
      if (kind === 0) datagram = fresh;
      else if (kind === 1) datagram = base; // a replay, or the first time for `fresh`
      else if (kind === 2) {
        datagram = Buffer.from(base);
        for (let flips = 1 + int(4); flips > 0; flips--) datagram[int(datagram.length)]! ^= 1 + int(255);
      } else if (kind === 3) datagram = base.subarray(0, int(base.length));
      else if (kind === 4) datagram = Buffer.concat([base, Buffer.from([int(256)])]);
      else if (kind === 5) datagram = Buffer.concat([base.subarray(0, 32), sent[int(sent.length)]!.bytes.subarray(32)]);
      else if (kind === 6) {
        datagram = Buffer.from(base);
        // A counter from far ahead or behind under a known salt.
        datagram.writeUInt32BE(int(2 ** 32), 24 + int(2) * 4);
      } else datagram = Buffer.from(Array.from({ length: int(1300) }, () => int(256)));
      const result = opener.open(datagram);
      const untouched = datagram === fresh || (datagram === base && base === fresh);
      if (untouched && from !== 2) {
        genuine += 1;
        expect(result.plain, `case ${index}: a genuine datagram must open`).toBeDefined();
      }
      if (result.plain) {
        opened += 1;
        const id = datagram.toString('hex');
        expect(openedOnce.has(id), `case ${index}: opened twice (a replay let through)`).toBe(false);
        openedOnce.add(id);
        // Whatever opens is a datagram some sender with this secret sealed, unchanged.
        expect(sent.some((s) => s.good && s.bytes.equals(datagram)), `case ${index} (kind ${kind}) opened`).toBe(true);
      }
    }
    expect(genuine).toBeGreaterThan(cases / 20);
    // Replays of a datagram not yet opened (its first time) count as opened too, never twice.
    expect(opened).toBeGreaterThanOrEqual(genuine);
    const { plain, forged, replayed } = opener.drops;
    expect(plain + forged + replayed + opened).toBe(cases);
  });
});
