// One fuzz run against a real `vstream recv` with every sink at once, shared by
// test/fuzz-recv.test.ts (a few thousand cases, asserted) and `BENCH_ONLY=attacks` (as many as
// FUZZ_CASES says, figures only). Hostile cases from cases.mjs go out over many
// connections (TCP) or sockets (UDP) while a good sender, labelled GOOD_LABEL, sends one valid
// frame after each batch of them and waits for its --json line: the good stream is the canary.
//
// The run records facts, it asserts nothing: whether recv stayed up (if it dies, the death is
// recorded with the cases in flight, a new recv is started and the run goes on, so that one run
// lists every way it died), which good frames arrived and were saved intact, connections recv
// closed although their framing was intact, peak RSS (VmHWM), and what stderr looked like.
import { once } from 'node:events';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { frame } from '../../dist/frame/framer.js';
import { splitFrame } from '../../dist/frame/udp-datagram.js';
import { GOOD_LABEL, spoofDatagrams, SPOOF_KINDS, tcpCase, udpCase } from './cases.mjs';
import { memoryOf, start, vstream } from '../proc.mjs';

/** Hostile TCP connections open at once; a case goes out on one of them, round robin. */
const OPEN_CONNECTIONS = 8;
/** Hostile UDP sockets (half IPv4, half IPv6): sources the receiver tells apart. */
const UDP_SOURCES = 8;
/**
 * Guards against a hung receiver, not synchronisations: a good frame normally takes ms. Over
 * UDP a frame that is not there within seconds never will be.
 */
const GOOD_FRAME_TIMEOUT_MS = { tcp: 10_000, udp: 3000 };
/**
 * After this many good frames in a row time out with recv still up, or once a connection's
 * writes stay blocked for 10 s, recv is stuck (a frame that keeps it busy for minutes counts as
 * a death): it is killed and the run goes on with a new one, up to `maxStalls` times.
 */
const STUCK_AFTER = 2;
const WRITE_STALL_MS = 10_000;

const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs `cases` hostile cases of `seed` (from `first`, default 0) with `goodFrames` good frames
 * interleaved. `bases` are the JPEGs cases are made from, `goodJpeg` the good sender's frame.
 * `window`: leave the window sink on (the caller's `env` must carry a DISPLAY).
 */
export async function fuzzRecv({ transport, seed, cases, first = 0, goodFrames, bases, goodJpeg, env, window = false, extraArgs = [], maxStalls = 2, onProgress = () => {} }) {
  const work = await mkdtemp(path.join(tmpdir(), `vstream-fuzz-${transport}-`));
  const result = {
    transport, seed, first, cases, goodFrames,
    kinds: {}, goodArrived: [], goodMissing: [], goodSaved: 0, goodSavedWrong: [], goodRestarted: [],
    deaths: [], unexpectedCloses: [], stuck: false, peakRssMb: 0, kernelDrops: 0,
    stderr: '', seconds: 0,
  };
  const t0 = performance.now();
  let recv;
  let hostile;
  let good;
  try {
    recv = await Incarnation.start({ transport, work, n: 0, env, window, extraArgs });
    hostile = transport === 'tcp' ? new HostileTcp(recv.port) : await HostileUdp.open(recv.port);
    good = transport === 'tcp' ? await GoodTcp.open(recv.port, goodJpeg) : await GoodUdp.open(recv.port, goodJpeg, seed);
    const perGood = Math.ceil(cases / goodFrames);
    let next = first;
    let timedOutInARow = 0;
    let stalls = 0;
    const stall = (why) => {
      recv.stalled = why;
      recv.kill();
      if (++stalls > maxStalls) result.stuck = true;
    };
    run: for (let k = 0; k < goodFrames; k++) {
      for (; next < first + Math.min(cases, (k + 1) * perGood); next++) {
        if (recv.dead || recv.stalled) ({ recv, hostile, good } = await restart());
        const c = transport === 'tcp' ? tcpCase(seed, next, bases) : udpCase(seed, next, bases, { sources: UDP_SOURCES });
        const kind = c.kind.replace(/\(.*\)/, '');
        result.kinds[kind] = (result.kinds[kind] ?? 0) + 1;
        recv.confirmedFrom ??= next;
        recv.lastSent = next;
        recv.lastCases.push(`${c.index}:${c.kind}`);
        if (recv.lastCases.length > 40) recv.lastCases.shift();
        if ((await hostile.send(c)) === 'stalled') stall(`stuck: read nothing for ${WRITE_STALL_MS / 1000} s (killed)`);
        if (result.stuck) break run;
      }
      if (recv.dead || recv.stalled) ({ recv, hostile, good } = await restart());
      if (transport === 'udp') await recv.udpDrained();
      await good.send(k);
      const arrived = await recv.waitGood(k, GOOD_FRAME_TIMEOUT_MS[transport]);
      sampleRss();
      if (arrived) {
        timedOutInARow = 0;
        // The cases sent before this good frame were read before it: a later death is not theirs.
        recv.confirmedFrom = next;
        // Over UDP the stream's own counters show whether it lived through: a stream that was
        // evicted or ended and started again counts from 1 again.
        if (transport === 'udp' && arrived.framesReceived < recv.goodSince(good.firstSeq, k)) result.goodRestarted.push(k);
      } else if (!recv.dead && ++timedOutInARow >= STUCK_AFTER) {
        timedOutInARow = 0;
        stall(`stuck: ${STUCK_AFTER} good frames in a row not delivered within ${GOOD_FRAME_TIMEOUT_MS[transport] / 1000} s (killed)`);
        if (result.stuck) break;
      }
      onProgress(`${transport} seed ${seed}: ${next - first}/${cases} cases, good frame ${k + 1}/${goodFrames}`);
    }
    result.casesSent = next - first;
    if (recv.dead || recv.stalled) ({ recv } = await restart(false));
    // Every good frame's json line has been awaited; the files are written before that line.
    sampleRss();
    result.stillRunning = !recv.dead;
    result.kernelDrops += recv.udpDrops();
    hostile.close();
    good.close();
    await recv.stop();
    result.exitAtStop = recv.exit;
    result.goodArrived = [...new Set(recv.all.goodSeqs)].sort((a, b) => a - b);
    const arrived = new Set(result.goodArrived);
    for (let k = 0; k < goodFrames; k++) if (!arrived.has(k)) result.goodMissing.push(k);
    await checkSaved(work, goodJpeg, goodFrames, result);
    result.rawOutputBytes = await totalSize(work, /^out-\d+\.rgb$/);
    result.stderr = recv.all.stderr;
    result.stdoutLines = recv.all.stdoutLines;
    result.unexpectedCloses = hostile.unexpected ?? [];
  } finally {
    result.seconds = (performance.now() - t0) / 1000;
    hostile?.close();
    good?.close();
    recv?.kill();
    if (!process.env.FUZZ_KEEP) await rm(work, { recursive: true, force: true });
    else result.workDir = work;
  }
  return result;

  function sampleRss() {
    const m = memoryOf(recv.pid);
    if (m) result.peakRssMb = Math.max(result.peakRssMb, m.hwmKb / 1024);
  }

  /** Records recv's death with the cases in flight and starts another (unless `again` is false). */
  async function restart(again = true) {
    const exit = await recv.exited;
    result.deaths.push({
      incarnation: recv.n,
      exit: exit.signal ?? exit.code,
      lastCases: recv.lastCases.slice(-12),
      // Where the case that did it is: after the last good frame that arrived, up to the last case sent.
      window: recv.lastSent === undefined || recv.confirmedFrom > recv.lastSent ? null : { first: recv.confirmedFrom, cases: recv.lastSent - recv.confirmedFrom + 1 },
      lastHostileSeq: recv.lastHostileSeq,
      stderrTail: recv.err.trim().split('\n').slice(-3).map((l) => l.slice(0, 300)),
      cause: recv.stalled ?? deathCause(recv.err),
    });
    result.kernelDrops += recv.udpDrops();
    hostile.dropCloses?.(recv.n);
    hostile.close();
    good.close();
    if (!again) return { recv };
    const next = await Incarnation.start({ transport, work, n: recv.n + 1, env, window, extraArgs, all: recv.all });
    recv = next;
    const h = transport === 'tcp' ? new HostileTcp(next.port, next.n, hostile) : await HostileUdp.open(next.port);
    const g = transport === 'tcp' ? await GoodTcp.open(next.port, goodJpeg) : await GoodUdp.open(next.port, goodJpeg, seed, good);
    return { recv: next, hostile: h, good: g };
  }
}

/**
 * The last stderr line of a dead recv reduced to what tells deaths apart, so that they group:
 * "internal error: ENAMETOOLONG (mkdir)", "cannot write: ENAMETOOLONG (open)"; the wire's
 * names and the paths differ from case to case and are left out.
 */
export function deathCause(stderr) {
  const last = (stderr.trim().split('\n').at(-1) ?? '').replace(/^vstream: /, '');
  const kind = ['internal error', 'cannot write', 'cannot create folder'].find((k) => last.startsWith(k)) ?? 'error';
  const errno = /\b(E[A-Z]{2,}): /.exec(last)?.[1] ?? (/name too long/.test(last) ? 'ENAMETOOLONG' : /already exists/.test(last) ? 'EEXIST' : /not a directory/.test(last) ? 'ENOTDIR' : undefined);
  const syscall = /, (mkdir|open|write|scandir|stat|rename) '/.exec(last)?.[1];
  if (errno) return `${kind}: ${errno}${syscall ? ` (${syscall})` : ''}`;
  return last.replace(/'[^']*'|\/tmp\/\S*/g, 'PATH').replace(/\d+/g, 'N').slice(0, 160);
}

/** One `vstream recv` process; a run that kills it starts the next incarnation in the same folder. */
class Incarnation {
  static async start({ transport, work, n, env, window, extraArgs, all = { goodSeqs: [], goodRecords: new Map(), stderr: '', stdoutLines: 0 } }) {
    const args = [
      'recv', '--listen', '0',
      ...(transport === 'udp' ? ['--udp'] : []),
      ...(window ? [] : ['--no-window']),
      '--save-dir', path.join(work, `saved-${n}`),
      '--json',
      '--format', 'rgb24', '--output', path.join(work, `out-${n}.rgb`),
      ...extraArgs,
    ];
    const p = start(...vstream(...args), { env: env ?? process.env });
    const self = new Incarnation(p, transport, n, all);
    const [, port] = await p.waitFor(/listening on port (\d+)/);
    self.port = Number(port);
    return self;
  }

  constructor(p, transport, n, all) {
    this.p = p;
    this.pid = p.pid;
    this.transport = transport;
    this.n = n;
    this.all = all;
    this.lastCases = [];
    this.lastHostileSeq = null;
    this.waiters = new Set();
    this.dead = false;
    this.exited = p.exited.then((exit) => {
      this.dead = true;
      this.exit = exit.signal ?? exit.code;
      this.all.stderr += p.err;
      for (const w of this.waiters) w();
      return exit;
    });
    let partial = '';
    p.child.stdout.on('data', (chunk) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop();
      for (const line of lines) this.onJson(line);
    });
  }

  /** Good frames with a seq from `from` to `to` that arrived, in every incarnation. */
  goodSince(from, to) {
    let n = 0;
    for (const seq of this.all.goodRecords.keys()) if (seq >= from && seq <= to) n++;
    return n;
  }

  get err() {
    return this.p.err;
  }

  onJson(line) {
    this.all.stdoutLines++;
    let record;
    try {
      record = JSON.parse(line);
    } catch {
      return;
    }
    if (record.sender === GOOD_LABEL) {
      this.all.goodSeqs.push(record.seq);
      this.all.goodRecords.set(record.seq, record);
      for (const w of this.waiters) w();
    } else if (Number.isSafeInteger(record.seq)) {
      this.lastHostileSeq = record.seq;
    }
  }

  /** The good frame's --json record once it is there; undefined on timeout or exit. */
  waitGood(seq, timeoutMs) {
    return new Promise((resolve) => {
      const check = () => {
        const record = this.all.goodRecords.get(seq);
        if (record || this.dead) done(record);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (value) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** /proc/net/udp6 for recv's port: [rx_queue bytes, drops]; the socket is dual-stack (::). */
  udpQueue() {
    const hexPort = this.port.toString(16).toUpperCase().padStart(4, '0');
    for (const file of ['/proc/net/udp6', '/proc/net/udp']) {
      let text;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length < 13 || !f[1].endsWith(`:${hexPort}`)) continue;
        return [parseInt(f[4].split(':')[1], 16), Number(f[f.length - 1])];
      }
    }
    return [0, 0];
  }

  udpDrops() {
    return this.transport === 'udp' ? this.udpQueue()[1] : 0;
  }

  /**
   * Resolves once recv has read every datagram waiting in its socket, so that the good frame
   * that follows cannot be lost to a full receive buffer: the condition is read from the
   * kernel, a tick at a time, with a guard of a few seconds for a receiver that stopped reading.
   */
  async udpDrained() {
    const deadline = performance.now() + 5000;
    while (!this.dead && performance.now() < deadline && this.udpQueue()[0] > 0) await tick();
  }

  async stop() {
    this.p.kill('SIGTERM');
    await this.exited;
  }

  kill() {
    this.p.kill('SIGKILL');
  }
}

/** Hostile TCP: cases round robin over a few open connections, a fresh one after a broken header. */
class HostileTcp {
  constructor(port, incarnation = 0, previous) {
    this.port = port;
    this.incarnation = incarnation;
    this.open = [];
    this.turn = 0;
    this.unexpected = previous?.unexpected ?? [];
  }

  connection() {
    const socket = connect({ host: '127.0.0.1', port: this.port });
    socket.setNoDelay(true);
    const c = { socket, cases: [], endedByUs: false, brokeFraming: false, closed: false };
    const peerClosed = (how) => {
      if (c.closed) return;
      c.closed = true;
      if (!c.endedByUs && !c.brokeFraming && c.cases.length > 0) {
        this.unexpected.push({ incarnation: this.incarnation, at: performance.now(), how, cases: c.cases.slice(-5) });
      }
    };
    socket.on('error', (err) => peerClosed(err.code ?? 'error'));
    socket.on('end', () => peerClosed('end'));
    socket.on('close', () => peerClosed('close'));
    return c;
  }

  async send(c) {
    let conn;
    if (c.endsFraming) {
      conn = this.connection();
    } else {
      this.turn = (this.turn + 1) % OPEN_CONNECTIONS;
      conn = this.open[this.turn];
      if (!conn || conn.closed || conn.socket.destroyed) conn = this.open[this.turn] = this.connection();
    }
    conn.cases.push(`${c.index}:${c.kind}`);
    if (c.endsFraming) conn.brokeFraming = true;
    const flushed = conn.socket.write(c.bytes);
    if (c.endsFraming) {
      conn.endedByUs = true;
      conn.socket.end();
    } else if (!flushed) {
      // recv paused this connection (its queue is full): wait for it to read on, within a guard.
      const settled = (event) => once(conn.socket, event).then(() => 'ok', () => 'ok');
      let timer;
      const guard = new Promise((r) => (timer = setTimeout(() => r('stalled'), WRITE_STALL_MS)));
      const outcome = await Promise.race([settled('drain'), settled('close'), guard]);
      clearTimeout(timer);
      return outcome;
    }
    return 'ok';
  }

  /** Closes seen just before a death are the death's doing, not a verdict on the case. */
  dropCloses(incarnation) {
    const cutoff = performance.now() - 2000;
    this.unexpected = this.unexpected.filter((u) => u.incarnation !== incarnation || u.at < cutoff);
  }

  close() {
    for (const c of this.open) {
      if (!c) continue;
      c.endedByUs = true;
      c.socket.destroy();
    }
    this.open = [];
  }
}

/** Hostile UDP: each case from one of a few sockets, IPv4 and IPv6. */
class HostileUdp {
  static async open(port) {
    const sockets = [];
    for (let i = 0; i < UDP_SOURCES; i++) {
      const v6 = i % 2 === 1;
      const socket = createSocket(v6 ? 'udp6' : 'udp4');
      socket.on('error', () => {});
      await new Promise((resolve) => socket.bind(0, v6 ? '::1' : '127.0.0.1', resolve));
      sockets.push({ socket, host: v6 ? '::1' : '127.0.0.1' });
    }
    return new HostileUdp(port, sockets);
  }

  constructor(port, sockets) {
    this.port = port;
    this.sockets = sockets;
  }

  async send(c) {
    const { socket, host } = this.sockets[c.source % this.sockets.length];
    for (const d of c.datagrams) await new Promise((resolve) => socket.send(d, this.port, host, resolve));
  }

  close() {
    for (const { socket } of this.sockets) {
      try {
        socket.close();
      } catch {
        // closed already
      }
    }
    this.sockets = [];
  }
}

/** The good sender's frame k: the same JPEG each time, seq k, name good-k.jpg, non-live. */
function goodParts(jpeg, k) {
  return frame(jpeg, { seq: k, captureTime: performance.timeOrigin + performance.now(), label: GOOD_LABEL, name: `good-${k}.jpg` });
}

class GoodTcp {
  static async open(port, jpeg) {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    await once(socket, 'connect');
    return new GoodTcp(socket, jpeg);
  }

  constructor(socket, jpeg) {
    this.socket = socket;
    this.jpeg = jpeg;
  }

  async send(k) {
    for (const part of goodParts(this.jpeg, k)) this.socket.write(part);
  }

  close() {
    this.socket.destroy();
  }
}

class GoodUdp {
  static async open(port, jpeg, seed, previous) {
    const socket = createSocket('udp4');
    socket.on('error', () => {});
    await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
    // A new recv knows nothing of the old stream: the good stream starts again there.
    return new GoodUdp(socket, port, jpeg, (seed * 2654435761 + (previous ? previous.restarts + 1 : 0)) >>> 0, previous);
  }

  constructor(socket, port, jpeg, streamId, previous) {
    this.socket = socket;
    this.port = port;
    this.jpeg = jpeg;
    this.streamId = streamId;
    this.restarts = previous ? previous.restarts + 1 : 0;
    /** The first seq this stream sent: frames before it went to an earlier recv. */
    this.firstSeq = undefined;
  }

  async send(k) {
    this.firstSeq ??= k;
    const [, ...payload] = goodParts(this.jpeg, k);
    for (const parts of splitFrame(payload, { streamId: this.streamId, frameSeq: k, packetSize: 1200 })) {
      await new Promise((resolve) => this.socket.send(Buffer.concat(parts), this.port, '127.0.0.1', resolve));
    }
  }

  close() {
    try {
      this.socket.close();
    } catch {
      // closed already
    }
  }
}

/** Counts good-k.jpg files anywhere under the save folders, and those whose bytes differ. */
async function checkSaved(work, jpeg, goodFrames, result) {
  const seen = new Set();
  for (const entry of await readdir(work, { recursive: true, withFileTypes: true })) {
    const m = /^good-(\d+)\.jpg$/.exec(entry.name);
    if (!m || !entry.isFile()) continue;
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    if (!(await readFile(file)).equals(jpeg)) result.goodSavedWrong.push(path.relative(work, file));
    else seen.add(Number(m[1]));
  }
  result.goodSaved = [...seen].filter((k) => k < goodFrames).length;
}

async function totalSize(dir, pattern) {
  let total = 0;
  for (const name of await readdir(dir)) if (pattern.test(name)) total += (await stat(path.join(dir, name))).size;
  return total;
}

/** recv's --max-age in the spoofing check: a spoofed incomplete frame is given up this soon. */
const SPOOF_MAX_AGE_MS = 50;
/** The good frames after a spoof are this far apart, so that the stream outlives that frame's max age. */
const SPOOF_AFTER_GAP_MS = 2 * SPOOF_MAX_AGE_MS;

/**
 * The spoofing check: for each kind of datagram in SPOOF_KINDS, a fresh good stream sends
 * `before` frames, one spoofed datagram from its own address and stream id (what an on-path
 * or address-spoofing peer can send), then `after` frames, SPOOF_AFTER_GAP_MS apart (recv runs
 * with --max-age SPOOF_MAX_AGE_MS: a spoofed incomplete frame must expire while the stream
 * goes on). Good frames are one datagram each, so no good frame can be incomplete. Returns,
 * per kind, the seqs of the frames after the spoof that did not arrive (each awaited within a
 * guard).
 */
export async function spoofRun({ goodJpeg, spoofJpeg, before = 3, after = 3, env, timeoutMs = 1000 }) {
  const work = await mkdtemp(path.join(tmpdir(), 'vstream-fuzz-spoof-'));
  const recv = await Incarnation.start({ transport: 'udp', work, n: 0, env, window: false, extraArgs: ['--max-age', String(SPOOF_MAX_AGE_MS)] });
  const socket = createSocket('udp4');
  socket.on('error', () => {});
  await new Promise((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const send = (d) => new Promise((resolve) => socket.send(d, recv.port, '127.0.0.1', resolve));
  const missing = {};
  let seqBase = 0;
  try {
    for (const [i, kind] of SPOOF_KINDS.entries()) {
      const streamId = (0x5000 + i) >>> 0;
      missing[kind] = [];
      // Seqs unique across kinds so that one kind's lines are never mistaken for another's.
      const sendGood = async (seq) => {
        const [, ...payload] = goodParts(goodJpeg, seq);
        for (const parts of splitFrame(payload, { streamId, frameSeq: seq, packetSize: 65507 })) await send(Buffer.concat(parts));
        return recv.waitGood(seq, timeoutMs);
      };
      for (let k = 0; k < before; k++) await sendGood(seqBase + k);
      const [, ...spoofPayload] = frame(spoofJpeg, { seq: 0, captureTime: 0, label: 'spoof' });
      for (const d of spoofDatagrams(kind, { streamId, lastSeq: seqBase + before - 1, payload: Buffer.concat(spoofPayload) })) await send(d);
      for (let k = before; k < before + after; k++) {
        await new Promise((resolve) => setTimeout(resolve, SPOOF_AFTER_GAP_MS));
        if (!(await sendGood(seqBase + k))) missing[kind].push(k);
      }
      seqBase += before + after;
      if (recv.dead) break;
    }
    const stillRunning = !recv.dead;
    await recv.stop();
    return { missing, stillRunning, stderr: recv.all.stderr };
  } finally {
    socket.close();
    recv.kill();
    await rm(work, { recursive: true, force: true });
  }
}

// Lines recv writes about a connection's life, not about a problem: not rate-limited.
const LIFECYCLE = [/^vstream: listening on /, /^vstream: \S+ connected$/, / disconnected after \d+ frames( \([^()]*\))?$/, /^vstream: received \d+ frames/, /^vstream: the UDP receive buffer is /];
// Bytes a terminal acts on: C0 (tab included) and C1 controls, DEL, bidirectional overrides.
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/**
 * What recv's stderr looked like over a run of `seconds`: line counts, the problem lines (all
 * but the lifecycle ones) by ERR_ code, the longest line, lines with raw control characters,
 * and whether a stack trace or an internal error showed.
 */
export function stderrReport(stderr, seconds) {
  const lines = stderr.split('\n').filter((l) => l !== '');
  const problems = lines.filter((l) => !LIFECYCLE.some((re) => re.test(l)));
  const byCode = {};
  for (const line of problems) {
    const code = /\b(ERR_[A-Z0-9_]+)\b/.exec(line)?.[1] ?? 'other';
    byCode[code] = (byCode[code] ?? 0) + 1;
  }
  const longest = lines.reduce((a, l) => (l.length > a.length ? l : a), '');
  return {
    lines: lines.length,
    bytes: Buffer.byteLength(stderr),
    problemLines: problems.length,
    byCode,
    /** One line a second per code, plus the first and last partial seconds. */
    maxPerCode: Math.ceil(seconds) + 2,
    longestLine: longest.length,
    longestSample: longest.slice(0, 160),
    rawControlLines: lines.filter((l) => RAW_CONTROL.test(l)).length,
    rawControlSample: JSON.stringify(lines.find((l) => RAW_CONTROL.test(l))?.slice(0, 160) ?? ''),
    stackTrace: /^\s+at \S.*:\d+:\d+\)?$/m.test(stderr),
    internalError: /internal error/i.test(stderr),
  };
}
