// A UDP forwarder on loopback that loses, duplicates and reorders datagrams with a fixed-seed
// PRNG, for the UDP tests (test/helpers/lossy-relay.ts) and `npm run bench`. Plain JS so that
// the bench, which runs on dist/ without TypeScript, shares the one implementation.
//
// Every decision is a function of the seed and of the order datagrams arrive in, never of
// time: reordering holds a datagram until a given number of later ones have passed. So the
// relay's output order, which it records, is all a test needs to work out exactly which frames
// a receiver must deliver (`expected()`), whatever the machine's speed.
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/** mulberry32: a tiny 32-bit PRNG, good enough for test decisions and identical everywhere. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEQ_HALF = 0x80000000;
const newer = (a, b) => {
  const ahead = (a - b) >>> 0;
  return ahead !== 0 && ahead < SEQ_HALF;
};
const distance = (a, b) => (a - b) >>> 0;
const add = (seq, delta) => (seq + delta) >>> 0;
/** docs/PROTOCOL.md: a frameSeq jump larger than this is not counted as loss. */
const MAX_ESTIMATED_GAP = 65536;

export class LossyRelay {
  /**
   * @param {import('./lossy-relay.d.mts').LossyRelayOptions} options
   */
  static async start(options) {
    const relay = new LossyRelay(options);
    await new Promise((resolve, reject) => {
      relay.upstream.once('error', reject);
      relay.upstream.bind(0, relay.host, () => {
        relay.upstream.off('error', reject);
        resolve();
      });
    });
    return relay;
  }

  constructor({ target, host = '127.0.0.1', seed = 1, drop = 0, duplicate = 0, reorder = 0, maxHold = 8, parse, keepPayloads = true, protectEnd = true }) {
    this.target = target;
    this.host = host;
    this.options = { drop, duplicate, reorder, maxHold, keepPayloads, protectEnd };
    this.parse = parse;
    this.random = mulberry32(seed);
    this.counts = { received: 0, forwarded: 0, dropped: 0, duplicated: 0, held: 0, opaque: 0, replies: 0 };
    /** Stream key (`source#streamId`) -> { source, streamId, frames: Map<frameSeq, record> }. */
    this.streams = new Map();
    /** What went to the receiver, in order: the input of `expected()`. */
    this.log = [];
    /** Datagrams held back: { datagram, from, left } (left = arrivals still to pass). */
    this.holding = [];
    /** One socket towards the receiver per upstream source, so the receiver still tells senders apart. */
    this.downstream = new Map();
    this.upstream = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', recvBufferSize: 4 * 1024 * 1024 });
    this.upstream.on('message', (datagram, rinfo) => this.onDatagram(datagram, rinfo));
    this.upstream.on('error', () => {});
  }

  get port() {
    return this.upstream.address().port;
  }

  /** Releases every held datagram now, in the order they were held. */
  flush() {
    for (const held of this.holding.splice(0)) this.forward(held.datagram, held.from);
  }

  async close() {
    await new Promise((resolve) => this.upstream.close(() => resolve()));
    await Promise.all([...this.downstream.values()].map((socket) => new Promise((resolve) => socket.close(() => resolve()))));
  }

  /** The frame's payload when the relay forwarded each of its pieces at least once. */
  payload(streamKey, frameSeq) {
    const record = this.streams.get(streamKey)?.frames.get(frameSeq);
    if (!record || record.pieces.size !== record.pieceCount || !this.options.keepPayloads) return undefined;
    const chunks = [...record.pieces.entries()].sort((a, b) => a[0] - b[0]).map(([, payload]) => payload);
    return Buffer.concat(chunks, record.frameLength);
  }

  onDatagram(datagram, rinfo) {
    this.counts.received++;
    const from = { address: rinfo.address, port: rinfo.port };
    const info = this.describe(datagram, from);
    // Count-based reordering: every arrival brings each held datagram one step closer.
    const due = [];
    for (const held of this.holding) if (--held.left <= 0) due.push(held);
    this.holding = this.holding.filter((held) => held.left > 0);

    const { drop, duplicate, reorder, maxHold, protectEnd } = this.options;
    const isEnd = info?.type === 'end';
    if (isEnd && protectEnd) {
      // END overtaking held pieces would make them late; flush first, like a link that drains.
      for (const held of due.splice(0).concat(this.holding.splice(0))) this.forward(held.datagram, held.from);
      this.forward(datagram, from);
      return;
    }
    // Every datagram draws all its numbers, so one decision never shifts the ones after it.
    const [r1, r2, r3, r4] = [this.random(), this.random(), this.random(), this.random()];
    if (r1 < drop) {
      this.counts.dropped++;
    } else if (r3 < reorder) {
      this.counts.held++;
      this.holding.push({ datagram, from, left: 1 + Math.floor(r4 * maxHold) });
      if (r2 < duplicate) {
        this.counts.duplicated++;
        this.forward(datagram, from);
      }
    } else {
      this.forward(datagram, from);
      if (r2 < duplicate) {
        this.counts.duplicated++;
        this.forward(datagram, from);
      }
    }
    for (const held of due) this.forward(held.datagram, held.from);
  }

  describe(datagram, from) {
    if (!this.parse) return undefined;
    let parsed;
    try {
      parsed = this.parse(datagram);
    } catch {
      return undefined;
    }
    const { header, payload } = parsed;
    return { ...header, type: header.type === 1 ? 'end' : 'piece', payload, key: `${from.address}:${from.port}#${header.streamId}` };
  }

  forward(datagram, from) {
    this.counts.forwarded++;
    const info = this.describe(datagram, from);
    if (info) this.record(info, from);
    else this.counts.opaque++;
    this.socketFor(from).send(datagram, this.target.port, this.target.host);
  }

  record(info, from) {
    this.log.push({ key: info.key, type: info.type, frameSeq: info.frameSeq, pieceIndex: info.pieceIndex, pieceCount: info.pieceCount });
    if (info.type !== 'piece') return;
    let stream = this.streams.get(info.key);
    if (!stream) {
      stream = { source: `${from.address}:${from.port}`, streamId: info.streamId, frames: new Map() };
      this.streams.set(info.key, stream);
    }
    let frame = stream.frames.get(info.frameSeq);
    if (!frame) {
      frame = { pieceCount: info.pieceCount, frameLength: info.frameLength, pieces: new Map() };
      stream.frames.set(info.frameSeq, frame);
    }
    if (!frame.pieces.has(info.pieceIndex)) frame.pieces.set(info.pieceIndex, this.options.keepPayloads ? Buffer.from(info.payload) : null);
  }

  socketFor(from) {
    const key = `${from.address}:${from.port}`;
    let socket = this.downstream.get(key);
    if (!socket) {
      socket = createSocket(isIPv6(this.target.host) ? 'udp6' : 'udp4');
      socket.on('error', () => {});
      // Replies (legacy mode) go back to the sender through the port it sent to.
      socket.on('message', (reply) => {
        this.counts.replies++;
        this.upstream.send(reply, from.port, from.address);
      });
      this.downstream.set(key, socket);
    }
    return socket;
  }

  /**
   * Replays the recorded output through the reassembly rules of docs/PROTOCOL.md ("UDP",
   * "Reassembly" and "Loss counters"), without time: pieces in any order, duplicates and late
   * pieces ignored, a frame delivered when complete, a newer frame wins, at most
   * `maxFramesPerStream` incomplete frames per stream, END settles the stream. Valid as long as
   * no frame reaches the receiver's --max-age and memory limits, which a test arranges.
   * Returns per stream the frames that must be delivered, in order, each with the counters the
   * receiver reports with it, and the final counters.
   */
  expected({ maxFramesPerStream = 4 } = {}) {
    const streams = new Map();
    const ended = new Set();
    for (const event of this.log) {
      if (ended.has(event.key)) continue;
      let s = streams.get(event.key);
      if (event.type === 'end') {
        if (!s) continue;
        settle(s, add(event.frameSeq, -1));
        for (const frame of [...s.pending.values()]) drop(s, frame);
        s.ended = true;
        ended.add(event.key);
        continue;
      }
      if (!s) {
        s = { floor: add(event.frameSeq, -1), fixed: false, pending: new Map(), lastPieceCount: event.pieceCount, delivered: [], ended: false };
        s.counters = { framesReceived: 0, framesDropped: 0, datagramsLost: 0 };
        streams.set(event.key, s);
      }
      let frame = s.pending.get(event.frameSeq);
      if (!frame) {
        if (!newer(event.frameSeq, s.floor)) {
          if (s.fixed) continue;
          s.floor = add(event.frameSeq, -1);
        }
        frame = { seq: event.frameSeq, pieceCount: event.pieceCount, pieces: new Set() };
        s.pending.set(event.frameSeq, frame);
      } else if (frame.pieces.has(event.pieceIndex)) {
        continue;
      }
      frame.pieces.add(event.pieceIndex);
      s.lastPieceCount = event.pieceCount;
      if (frame.pieces.size === frame.pieceCount) {
        s.pending.delete(frame.seq);
        s.counters.framesReceived++;
        finish(s, frame.seq);
        s.delivered.push({ frameSeq: frame.seq, loss: { ...s.counters } });
      } else if (s.pending.size > maxFramesPerStream) {
        let oldest;
        for (const f of s.pending.values()) if (!oldest || newer(oldest.seq, f.seq)) oldest = f;
        drop(s, oldest);
        finish(s, oldest.seq);
      }
    }
    const result = new Map();
    for (const [key, s] of streams) result.set(key, { delivered: s.delivered, final: { ...s.counters }, ended: s.ended });
    return result;
  }
}

function finish(s, seq) {
  settle(s, add(seq, -1));
  s.floor = seq;
  s.fixed = true;
}

function settle(s, upTo) {
  if (!newer(upTo, s.floor)) return;
  const span = distance(upTo, s.floor);
  let seen = 0;
  for (const frame of [...s.pending.values()]) {
    if (newer(frame.seq, upTo)) continue;
    drop(s, frame);
    seen++;
  }
  if (span - seen > 0 && span <= MAX_ESTIMATED_GAP) {
    s.counters.framesDropped += span - seen;
    s.counters.datagramsLost += (span - seen) * s.lastPieceCount;
  }
  s.floor = upTo;
  s.fixed = true;
}

function drop(s, frame) {
  s.pending.delete(frame.seq);
  s.counters.framesDropped++;
  s.counters.datagramsLost += frame.pieceCount - frame.pieces.size;
}
