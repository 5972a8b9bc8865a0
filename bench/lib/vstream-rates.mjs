// vstream end to end: real `send` and `recv` processes on loopback, headless.
import { spawnSync } from 'node:child_process';
import { measureRate, startReceiver, start, vstream, watchMemory } from '../../tools/proc.mjs';
import { median } from '../../tools/table.mjs';

/** Whether `vstream <command> --help` lists `option`, e.g. cliHas('recv', '--format'). */
export function cliHas(command, option) {
  const [node, args] = vstream(command, '--help');
  return new RegExp(`^\\s+(-\\w, )?${option}\\b`, 'm').test(spawnSync(node, args, { encoding: 'utf8' }).stdout);
}

/**
 * `send --file CLIP --fps max` into `recv --no-window --frames N`, over TCP or UDP
 * (`--udp --packet-size 65000`, the sender looping the clip so that lost frames cannot stall
 * the count; it is stopped when the receiver is done; `dropped` counts the frames lost).
 * sink 'decode' is `--format rgb24 --size WxH --output /dev/null` (every frame decoded to
 * pixels); when recv has no --format yet it falls back to `--output /dev/null` and says
 * decodes: false. sink 'passthrough' is `--output /dev/null` (JPEGs written as received). Timing: see measureRate. Also the
 * receiver's peak RSS (VmHWM, read every 100 ms and on its summary line, just before it exits).
 */
export async function vstreamRate({ clip, frames, shortClip, shortFrames, runs = 3, size, transport = 'tcp', sink = 'passthrough', packetSize = 65000, rate, extra = [] }) {
  const udp = transport === 'udp';
  if (udp && !cliHas('send', '--udp')) return { skipped: 'send has no --udp' };
  const decodes = sink === 'decode' && cliHas('recv', '--format');
  const sinkArgs = decodes ? ['--format', 'rgb24', '--size', size, '--output', '/dev/null'] : ['--output', '/dev/null'];
  const udpArgs = udp ? ['--udp'] : [];
  const sendUdp = udp ? ['--udp', '--packet-size', String(packetSize), ...(rate ? ['--rate', String(rate)] : []), '--loop'] : [];

  const once = async (file, expected) => {
    const { p: recv, port } = await startReceiver(['--no-window', ...udpArgs, ...sinkArgs, '--frames', String(expected), ...extra]);
    const mem = watchMemory(recv.pid);
    recv.listeners.add(() => /received \d+ frames/.test(recv.err) && mem.sample());
    const t0 = performance.now();
    const send = start(...vstream('send', '--file', file, '--fps', 'max', ...sendUdp, '--to', `127.0.0.1:${port}`, ...extra));
    const { code, at } = await recv.exited;
    const { peakKb } = mem.stop();
    if (udp) send.kill('SIGINT'); // still looping, unless it already saw the receiver go (exit 3)
    const sent = await send.exited;
    const received = Number(/received (\d+) frames/.exec(recv.err)?.[1]);
    if (code !== 0 || received !== expected || (!udp && sent.code !== 0)) {
      throw new Error(`vstream ${transport} run failed (recv ${code}, send ${sent.code}, ${received}/${expected} frames): ${recv.err}${send.err}`.trim());
    }
    return {
      seconds: (at - t0) / 1000,
      peakRssKb: peakKb,
      // Frames lost on the way (sequence gaps in the receiver's summary; UDP: lost datagrams).
      dropped: Number(/sender[s]?, (\d+) dropped/.exec(recv.err)?.[1]),
    };
  };
  const r = await measureRate({ clip, frames, shortClip, shortFrames, runs, once });
  const long = r.details;
  return {
    ...r,
    transport,
    sink,
    decodes: sink === 'decode' ? decodes : false,
    peakRssMb: median(long.map((d) => d.peakRssKb)) / 1024,
    dropped: median(long.map((d) => d.dropped)),
  };
}
