// The cost of a shared secret: throughput (the clip at 640x480, `--fps max`, pass-through) and
// live latency (the 640x480 pattern at 30 frames/s) with and without `--secret-file`, in the
// same run, over TCP (TLS 1.2 PSK) and UDP. A transport that refuses a secret yet is a skipped
// row with the reason, so that the table fills in once it encrypts.
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { vstream } from '../../tools/proc.mjs';
import { latency } from './latency.mjs';
import { vstreamRate } from './vstream-rates.mjs';
import { median } from '../../tools/table.mjs';

/** Whether `vstream recv --secret-file F --udp ...` is accepted (not a usage error) by this build. */
function takesSecret(file, transport) {
  const [node, args] = vstream('recv', '--no-window', '--listen', '0', '--bind', '127.0.0.1', ...(transport === 'udp' ? ['--udp'] : []), '--secret-file', file, '--frames', '1', '--output', '/dev/null');
  const r = spawnSync(node, args, { encoding: 'utf8', timeout: 1500 });
  return r.status === 2 ? r.stderr.trim().split('\n').pop() : true;
}

export async function secretCost({ clip, frames, shortClip, shortFrames, runs, seconds, attempt = (_label, f) => f() }) {
  const dir = await mkdtemp(path.join(tmpdir(), 'vstream-secret-bench-'));
  const file = path.join(dir, 'secret');
  const [node, args] = vstream('secret');
  await writeFile(file, spawnSync(node, args, { encoding: 'utf8' }).stdout);
  await chmod(file, 0o600);
  const rows = [];
  for (const transport of ['tcp', 'udp']) {
    const usable = takesSecret(file, transport);
    for (const secret of [false, true]) {
      const label = `${transport.toUpperCase()} ${secret ? 'with' : 'without'} a secret`;
      rows.push({ label, transport, secret, ...(secret && usable !== true && { skipped: `refused by this build: ${usable}` }), rates: [], latencies: [] });
    }
  }
  const measured = rows.filter((row) => !row.skipped);
  try {
    // Interleaved (run 1 of every row, then run 2, ...): load from others on a shared machine
    // then falls on both sides of each comparison instead of on one row.
    for (let run = 0; run < runs; run += 1) {
      for (const row of measured) {
        const extra = row.secret ? ['--secret-file', file] : [];
        row.rates.push(await attempt(`${row.label}: throughput, run ${run + 1}`, () => vstreamRate({ clip, frames, shortClip, shortFrames, runs: 1, size: '640x480', transport: row.transport, sink: 'passthrough', extra })));
        row.latencies.push(await attempt(`${row.label}: latency, run ${run + 1}`, () => latency({ size: '640x480', fps: 30, seconds, transport: row.transport, decoded: false, extra })));
      }
    }
    for (const row of measured) {
      const fps = row.rates.map((r) => r?.fps).filter(Number.isFinite);
      const p50 = row.latencies.map((l) => l?.arrival?.p50).filter(Number.isFinite);
      const p99 = row.latencies.map((l) => l?.arrival?.p99).filter(Number.isFinite);
      row.rate = fps.length ? { fps: median(fps), runs: fps } : row.rates.find((r) => r?.error);
      row.latency = p50.length ? { arrival: { p50: median(p50), p99: median(p99), runs: p50 } } : row.latencies.find((l) => l?.error);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
