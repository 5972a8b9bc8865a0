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
  try {
    for (const transport of ['tcp', 'udp']) {
      const usable = takesSecret(file, transport);
      for (const secret of [false, true]) {
        const label = `${transport.toUpperCase()} ${secret ? 'with' : 'without'} a secret`;
        if (secret && usable !== true) {
          rows.push({ label, transport, secret, skipped: `refused by this build: ${usable}` });
          continue;
        }
        const extra = secret ? ['--secret-file', file] : [];
        const rate = await attempt(`${label}: throughput`, () => vstreamRate({ clip, frames, shortClip, shortFrames, runs, size: '640x480', transport, sink: 'passthrough', extra }));
        const live = await attempt(`${label}: latency`, () => latency({ size: '640x480', fps: 30, seconds, transport, decoded: false, extra }));
        rows.push({ label, transport, secret, rate, latency: live });
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return rows;
}
