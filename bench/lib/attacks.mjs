// `BENCH_ONLY=attacks`: what hostile peers do to one `vstream recv`, each attack beside a good
// sender (`send --dir` of GOOD_FRAMES images at GOOD_FPS, label "good"), with recv's defaults
// unless a row says otherwise. Per attack: recv's peak RSS (VmHWM), how many good frames arrived
// of those sent, the time from the good sender's start to its first frame, and whether recv died.
//   a. memory: 50 connections each sending a 60 MiB frame but its last byte, then holding it
//   b. slowloris: 1000 idle connections held open, recv limited to 1000 open files (a little
//      under the usual soft limit, 1024, so that the idle ones reach it), then the good sender
//   c. UDP flood: new stream ids (first pieces of frames that never complete) as fast as the
//      flooder can send, for `seconds`, recv --udp
//   d. 20 000 short TCP connections (connect, half a header, close), 64 at a time
//   e. the seeded fuzzer (tools/fuzz/run.mjs), TCP and UDP, `fuzzCases` cases each
//   f. with a shared secret: 20 000 TLS handshakes that are garbage after their first record
//      header, 64 at a time, and 200 that stall after one byte; the good sender has the secret
//   g. with a shared secret over UDP: made-up sealed datagrams (a new salt each, so a new key
//      to derive, and a tag that fails) as fast as 4 sockets send, for `seconds`
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { encodeHeader } from '../../dist/frame/header.js';
import { fuzzRecv, stderrReport } from '../../tools/fuzz/run.mjs';
import { start, vstream, vstreamBin, watchMemory } from '../../tools/proc.mjs';

const GOOD_FRAMES = 100;
const GOOD_FPS = 20;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs every attack; returns one row per attack (see the header). */
export async function attacks({ seconds = 10, fuzzCases = 20_000, seed = 1, only, progress = () => {} }) {
  const work = await mkdtemp(path.join(tmpdir(), 'vstream-attacks-'));
  try {
    const { dir: goodDir, jpeg: goodJpeg, bases } = await images(work);
    const rows = [];
    // `only`: words of attack names (BENCH_ATTACKS=secret,slowloris); unset, every attack runs.
    const picked = (name) => !only || only.split(',').some((word) => name.toLowerCase().includes(word.trim().toLowerCase()));
    const run = async (name, f) => {
      if (!picked(name)) return;
      progress(`attacks: ${name}`);
      try {
        rows.push({ attack: name, ...(await f()) });
      } catch (err) {
        rows.push({ attack: name, error: err.message.split('\n', 1)[0].slice(0, 300) });
      }
    };
    await run('slow big frames', () => slowBigFrames({ goodDir, seconds, connections: 50, declared: 60 * 2 ** 20 }));
    await run('slowloris', () => slowloris({ goodDir, connections: 1000, nofile: 1000 }));
    await run('UDP stream-id flood', () => udpFlood({ goodDir, seconds }));
    await run('short TCP connections', () => shortConnections({ goodDir, connections: 20_000, parallel: 64 }));
    await run('TLS handshake flood (secret)', () => handshakeFlood({ goodDir, connections: 20_000, parallel: 64, stalled: 200 }));
    await run('forged sealed UDP flood (secret)', () => forgedUdpFlood({ goodDir, seconds }));
    for (const transport of ['tcp', 'udp']) {
      await run(`fuzzer ${transport.toUpperCase()}`, () => fuzz({ transport, seed, cases: fuzzCases, bases, goodJpeg, progress }));
    }
    return rows;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** GOOD_FRAMES noisy 320x240 JPEGs in a folder for `send --dir`, and small ones for the fuzzer. */
async function images(work) {
  const dir = path.join(work, 'good');
  const noise = (width, height) => sharp({ create: { width, height, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } });
  const jpeg = await noise(320, 240).jpeg({ quality: 80 }).toBuffer();
  await import('node:fs/promises').then(({ mkdir, writeFile }) =>
    mkdir(dir).then(() => Promise.all(Array.from({ length: GOOD_FRAMES }, (_, i) => writeFile(path.join(dir, `${i}.jpg`), jpeg)))),
  );
  const bases = [
    await noise(64, 48).jpeg().toBuffer(),
    await noise(17, 9).jpeg({ quality: 30 }).toBuffer(),
    await noise(48, 64).jpeg({ progressive: true }).toBuffer(),
  ];
  return { dir, jpeg: bases[0], bases };
}

/**
 * recv (`--json --output /dev/null`, plus `args`) with its memory watched; `body(port, recv)`
 * runs the attack and the good sender. With `nofile`, recv runs under `ulimit -n nofile`.
 */
async function withRecv({ args = [], nofile, env }, body) {
  const argv = ['recv', '--listen', '0', '--no-window', '--json', '--output', '/dev/null', ...args];
  const [cmd, cmdArgs] = nofile
    ? ['sh', ['-c', `ulimit -n ${nofile} && exec "$0" "$@"`, process.execPath, vstreamBin, ...argv]]
    : vstream(...argv);
  const recv = start(cmd, cmdArgs, { env });
  const [, port] = await recv.waitFor(/listening on port (\d+)/);
  const mem = watchMemory(recv.pid, 100);
  const t0 = performance.now();
  try {
    const extra = await body(Number(port), recv);
    mem.sample();
    const died = recv.closed ? (await recv.exited) : null;
    const { peakKb, samples } = mem.stop();
    const err = stderrReport(recv.err, (performance.now() - t0) / 1000);
    return {
      peakRssMb: peakKb / 1024,
      startRssMb: (samples[0]?.rssKb ?? NaN) / 1024,
      endRssMb: (samples.at(-1)?.rssKb ?? NaN) / 1024,
      recvDied: died ? `exit ${died.signal ?? died.code}: ${recv.err.trim().split('\n').at(-1).slice(0, 160)}` : null,
      stderrMb: err.bytes / 2 ** 20,
      stderrLines: err.lines,
      ...extra,
    };
  } finally {
    mem.stop();
    recv.kill('SIGKILL');
    await recv.exited.catch(() => {});
  }
}

/** Starts the good sender; `done()` resolves with { goodSent, goodArrived, firstGoodFrameS, ... } once it has finished (or after `guardS`). */
function goodSender(recv, port, goodDir, { udp = false, guardS = 90, env } = {}) {
  const t0 = performance.now();
  const send = start(...vstream('send', ...(udp ? ['--udp'] : []), '--dir', goodDir, '--fps', String(GOOD_FPS), '--label', 'good', '--to', `127.0.0.1:${port}`), { env });
  let firstGoodFrameS = null;
  goodLines(recv, 1, guardS * 1000).then((n) => {
    if (n >= 1) firstGoodFrameS = (performance.now() - t0) / 1000;
  });
  return {
    done: async () => {
      const exited = await Promise.race([send.exited, sleep(guardS * 1000).then(() => null)]);
      send.kill('SIGKILL');
      // The last frame is through recv's sinks a moment after the sender exits.
      const goodArrived = await goodLines(recv, GOOD_FRAMES, 2000);
      return {
        goodSent: GOOD_FRAMES,
        goodArrived,
        firstGoodFrameS,
        goodSenderExit: exited ? (exited.signal ?? exited.code) : 'still running',
        goodSenderError: send.err.trim().split('\n').filter((l) => l && !/^vstream: sent /.test(l)).at(-1)?.slice(0, 160) ?? null,
      };
    },
  };
}

/** Resolves with the number of good --json lines once there are `n`, or after `timeoutMs` with what there is. */
function goodLines(recv, n, timeoutMs) {
  const count = () => (recv.out.match(/"sender":"good"/g) ?? []).length;
  return new Promise((resolve) => {
    const check = () => {
      if (count() >= n || recv.closed) done();
    };
    const done = () => {
      clearTimeout(timer);
      recv.listeners.delete(check);
      resolve(count());
    };
    const timer = setTimeout(done, timeoutMs);
    recv.listeners.add(check);
    check();
  });
}

function openSocket(port) {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  return socket;
}

async function slowBigFrames({ goodDir, seconds, connections, declared }) {
  return withRecv({}, async (port, recv) => {
    const sockets = Array.from({ length: connections }, () => openSocket(port));
    const chunk = Buffer.alloc(2 ** 20, 0x55);
    const stopAt = performance.now() + seconds * 1000;
    // Every frame but its last byte, as fast as recv reads it, then nothing: all of it waits.
    const fill = async (s) => {
      if (!s.write(encodeHeader(declared))) await drained(s);
      for (let left = declared - 1; left > 0 && !s.destroyed && performance.now() < stopAt; left -= chunk.length) {
        if (!s.write(chunk.subarray(0, Math.min(left, chunk.length)))) await drained(s);
      }
    };
    const good = goodSender(recv, port, goodDir);
    const t0 = performance.now();
    await Promise.all(sockets.map(fill));
    const fillSeconds = (performance.now() - t0) / 1000;
    const result = await good.done();
    const open = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
    sockets.forEach((s) => s.destroy());
    return { conditions: `${connections} connections, each a ${declared / 2 ** 20} MiB frame but its last byte, then held (at most ${seconds} s of sending)`, fillSeconds, attackersOpenAtEnd: open, ...result };
  });
}

/** Resolves on 'drain', or when the socket closes or errs. */
function drained(socket) {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done).off('close', done).off('error', done);
      resolve();
    };
    socket.on('drain', done).on('close', done).on('error', done);
  });
}

async function slowloris({ goodDir, connections, nofile }) {
  return withRecv({ nofile }, async (port, recv) => {
    const sockets = [];
    for (let i = 0; i < connections; i++) {
      const s = openSocket(port);
      // Half a header: a connection in the middle of a frame, as a slow peer holds it.
      s.once('connect', () => s.write('12'));
      sockets.push(s);
    }
    await Promise.all(sockets.map((s) => new Promise((resolve) => (s.readyState === 'open' ? resolve() : (s.once('connect', resolve), s.once('error', resolve), s.once('close', resolve))))));
    const connected = sockets.filter((s) => s.readyState === 'open').length;
    const good = goodSender(recv, port, goodDir);
    const result = await good.done();
    const open = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
    sockets.forEach((s) => s.destroy());
    return { conditions: `${connections} idle connections (2 bytes of a header each), recv under ulimit -n ${nofile}`, attackersConnected: connected, attackersOpenAtEnd: open, ...result };
  });
}

/** Runs bench/lib/udp-flood.mjs (KIND `stream-ids` or `sealed`) for `seconds`; resolves with the datagrams it sent. */
async function floodFromAnotherProcess(port, seconds, kind) {
  const flood = start(process.execPath, [new URL('./udp-flood.mjs', import.meta.url).pathname, String(port), String(seconds), kind]);
  await flood.exited;
  return Number(/sent (\d+)/.exec(flood.out)?.[1] ?? NaN);
}

async function udpFlood({ goodDir, seconds }) {
  return withRecv({ args: ['--udp'] }, async (port, recv) => {
    const good = goodSender(recv, port, goodDir, { udp: true });
    const sent = await floodFromAnotherProcess(port, seconds, 'stream-ids');
    const result = await good.done();
    return { conditions: `new stream id per datagram, 4 sockets as fast as they go, ${seconds} s; good sender over UDP`, attackDatagrams: sent, ...result };
  });
}

/**
 * `connections` connections, `parallel` at a time, each doing `onConnect` and then read until
 * recv closes it; resolves with the seconds it took.
 */
async function connectionsInTurn(port, connections, parallel, onConnect) {
  let next = 0;
  const worker = async () => {
    while (next < connections) {
      next++;
      await new Promise((resolve) => {
        const s = openSocket(port);
        s.once('connect', () => onConnect(s));
        s.resume();
        s.once('close', resolve);
      });
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: parallel }, worker));
  return (performance.now() - t0) / 1000;
}

async function shortConnections({ goodDir, connections, parallel }) {
  return withRecv({}, async (port, recv) => {
    const good = goodSender(recv, port, goodDir);
    const attackSeconds = await connectionsInTurn(port, connections, parallel, (s) => s.end('12'));
    const result = await good.done();
    return { conditions: `${connections} connections, ${parallel} at a time, each "12" then close`, attackSeconds, ...result };
  });
}

/** Both ends of the secret attacks have this one. */
const withSecret = { ...process.env, VSTREAM_SECRET: 'bench-attack-secret-0123456789abcdefghij' };

async function handshakeFlood({ goodDir, connections, parallel, stalled }) {
  return withRecv({ env: withSecret }, async (port, recv) => {
    // A TLS record header (handshake, TLS 1.0 on the record layer as ClientHellos are sent), a
    // length, then bytes that are no ClientHello: each costs recv a TLS session to refuse.
    const garbage = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), Buffer.alloc(0x40, 0x5a)]);
    const held = Array.from({ length: stalled }, () => {
      const s = openSocket(port);
      s.once('connect', () => s.write(garbage.subarray(0, 1)));
      return s;
    });
    const good = goodSender(recv, port, goodDir, { env: withSecret });
    const attackSeconds = await connectionsInTurn(port, connections, parallel, (s) => s.write(garbage));
    const result = await good.done();
    held.forEach((s) => s.destroy());
    return { conditions: `recv with a secret; ${connections} connections, ${parallel} at a time, a TLS record header then garbage; ${stalled} more stalled after one byte`, attackSeconds, ...result };
  });
}

async function forgedUdpFlood({ goodDir, seconds }) {
  return withRecv({ args: ['--udp'], env: withSecret }, async (port, recv) => {
    const good = goodSender(recv, port, goodDir, { udp: true, env: withSecret });
    const sent = await floodFromAnotherProcess(port, seconds, 'sealed');
    const result = await good.done();
    return { conditions: `recv --udp with a secret; made-up sealed datagrams (a new salt each), 4 sockets as fast as they go, ${seconds} s; good sender over UDP with the secret`, attackDatagrams: sent, ...result };
  });
}

async function fuzz({ transport, seed, cases, bases, goodJpeg, progress }) {
  let last = 0;
  const r = await fuzzRecv({
    transport, seed, cases, goodFrames: Math.max(40, Math.round(cases / 50)), bases, goodJpeg, maxStalls: 5,
    onProgress: (line) => {
      if (performance.now() - last > 10_000) (last = performance.now(), progress(`  ${line}`));
    },
  });
  const err = stderrReport(r.stderr, r.seconds);
  const causes = [...new Set(r.deaths.map((d) => d.cause))];
  return {
    conditions: `${r.casesSent === cases ? cases : `${r.casesSent} of ${cases}`} cases, seed ${seed}, every sink (--save-dir --json --format rgb24 --output FILE), ${r.seconds.toFixed(0)} s`,
    peakRssMb: r.peakRssMb,
    goodSent: r.goodFrames,
    goodArrived: r.goodArrived.length,
    recvDied: r.deaths.length ? `${r.deaths.length} times${r.stuck ? ' (then the run gave up: stuck too often)' : ''}: ${causes.slice(0, 4).join('; ')}` : null,
    deaths: r.deaths.length,
    deathsByCause: Object.fromEntries(causes.map((c) => [c, r.deaths.filter((d) => d.cause === c).length])),
    stderrMb: err.bytes / 2 ** 20,
    stderrLines: err.lines,
    unexpectedCloses: r.unexpectedCloses.length,
    goodRestarted: r.goodRestarted.length,
  };
}
