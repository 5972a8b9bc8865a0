// UDP under datagram loss: the share of frames vstream delivers through a relay that drops
// datagrams at random, beside the ideal (1-p)^k for a frame of k pieces.
import { LossyRelay } from '../../tools/lossy-relay.mjs';
import { startReceiver, start, vstream } from '../../tools/proc.mjs';
import { median } from '../../tools/table.mjs';

const { parseDatagram } = await import('../../dist/frame/udp-datagram.js');

/**
 * For each loss rate p: `send --udp --pattern --fps FPS --frames FRAMES` (default 1200-byte
 * datagrams) -> LossyRelay dropping each datagram with probability p (PRNG seed `seed + run`;
 * nothing duplicated or reordered; END datagrams never dropped) -> `recv --udp --max-age 2000
 * --output /dev/null`. A frame of k pieces then arrives whole with probability (1-p)^k: `ideal`
 * is the mean of (1-p)^k over the frames actually sent (k from the relay's record, so it
 * follows the JPEG sizes), `ratio` the delivered share, and `relayExpected` what the relay's
 * own record of forwarded datagrams says the receiver must deliver (equal to `delivered` when
 * the receiver neither loses nor invents a frame). Each run uses another seed; the row holds
 * medians over `runs` and every run in `perRun`.
 */
export async function udpLoss({ rates = [0, 0.01, 0.05], frames = 300, fps = 100, size = '640x480', quality = 80, runs = 1, seed = 1 }) {
  const rows = [];
  for (const p of rates) {
    const perRun = [];
    for (let i = 0; i < runs; i += 1) perRun.push(await once({ p, frames, fps, size, quality, seed: seed + i }));
    const m = (k) => median(perRun.map((r) => r[k]));
    rows.push({
      p,
      frames,
      fps,
      size,
      runs,
      piecesPerFrame: m('piecesPerFrame'),
      ideal: m('ideal'),
      delivered: m('delivered'),
      ratio: m('ratio'),
      relayExpected: m('relayExpected'),
      matchesRelay: perRun.every((r) => r.delivered === r.relayExpected),
      datagramsDropped: m('datagramsDropped'),
      perRun,
    });
  }
  return rows;
}

async function once({ p, frames, fps, size, quality, seed }) {
  const { p: recv, port } = await startReceiver(['--udp', '--no-window', '--output', '/dev/null', '--max-age', '2000']);
  let relay;
  try {
    relay = await LossyRelay.start({ target: { host: '127.0.0.1', port }, drop: p, seed, keepPayloads: false, parse: (d) => parseDatagram(d, 2 ** 30) });
    const send = start(...vstream('send', '--udp', '--pattern', '--size', size, '--fps', String(fps), '--frames', String(frames), '--quality', String(quality), '--to', `127.0.0.1:${relay.port}`, '--quiet'));
    const { code } = await send.exited;
    if (code !== 0) throw new Error(`send failed (${code}): ${send.err}`);
    // The END datagram (never dropped) settles the stream: the receiver then reports it.
    const [, delivered] = await recv.waitFor(/disconnected after (\d+) frames/, { timeoutMs: 10_000 });
    const [[, expected] = []] = [...relay.expected()];
    const records = [...relay.streams.values()][0]?.frames.values() ?? [];
    const pieces = [...records].map((f) => f.pieceCount);
    const k = pieces.reduce((a, b) => a + b, 0) / pieces.length;
    const ideal = pieces.reduce((sum, n) => sum + (1 - p) ** n, 0) / pieces.length;
    return {
      seed,
      piecesPerFrame: k,
      ideal,
      delivered: Number(delivered),
      ratio: Number(delivered) / frames,
      relayExpected: expected?.delivered.length ?? 0,
      datagramsDropped: relay.counts.dropped,
      datagramsForwarded: relay.counts.forwarded,
    };
  } finally {
    recv.kill('SIGINT');
    await recv.exited;
    await relay?.close();
  }
}
