// The Python/OpenCV reference program (bench/reference/python_*.py) end to end on loopback TCP:
// VideoCapture -> imencode q90 -> str(len).ljust(16) + data -> recvall -> imdecode.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { measureRate, start, watchMemory } from '../../tools/proc.mjs';
import { median } from '../../tools/table.mjs';

const script = (name) => fileURLToPath(new URL(`../reference/${name}`, import.meta.url));

/**
 * Frames/s of the reference program reading `clip` (see measureRate for what is timed) and the
 * receiver's peak RSS (VmHWM, read every 100 ms and on its last line), or
 * { skipped } when `python -c 'import cv2'` fails (Debian's python3-opencv imports only under
 * /usr/bin/python3).
 */
export async function pythonReferenceRate({ clip, frames, shortClip, shortFrames, runs = 3, python = '/usr/bin/python3' }) {
  const probe = spawnSync(python, ['-c', 'import cv2, numpy; print(cv2.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    return { skipped: `${python} cannot import cv2 and numpy (apt install python3-opencv python3-numpy)` };
  }
  const once = async (file, expected) => {
    const recv = start(python, [script('python_receiver.py'), '127.0.0.1', '0']);
    const [, port] = await recv.waitFor(/listening (\d+)/, { stream: 'out' });
    const mem = watchMemory(recv.pid);
    recv.listeners.add(() => /frames \d+ elapsed/.test(recv.out) && mem.sample());
    const t0 = performance.now();
    const send = start(python, [script('python_sender.py'), file, '127.0.0.1', port]);
    const { code, at } = await recv.exited;
    const { peakKb } = mem.stop();
    const sent = await send.exited;
    const m = /frames (\d+) elapsed ([\d.]+)/.exec(recv.out);
    if (code !== 0 || sent.code !== 0 || Number(m?.[1]) !== expected) {
      throw new Error(`python reference failed (receiver ${code}, sender ${sent.code}): ${recv.out}${recv.err}${send.err}`.trim());
    }
    return { seconds: (at - t0) / 1000, receiverSeconds: Number(m[2]), peakRssKb: peakKb };
  };
  const r = await measureRate({ clip, frames, shortClip, shortFrames, runs, once });
  return { ...r, opencv: probe.stdout.trim(), quality: 90, peakRssMb: median(r.details.map((d) => d.peakRssKb)) / 1024 };
}
