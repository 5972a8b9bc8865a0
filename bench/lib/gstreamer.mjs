// GStreamer doing the same job: decode the clip -> jpegenc -> multipartmux -> TCP ->
// multipartdemux -> jpegdec -> fakesink, as two gst-launch-1.0 processes on loopback.
import { freePort, has, measureRate, start, watchMemory } from '../../tools/proc.mjs';
import { median } from '../../tools/table.mjs';

/**
 * Frames/s (see measureRate for what is timed) and the receiver's peak RSS (VmHWM, read every
 * 100 ms until it exits, so growth in its last 100 ms is missed), or { skipped } without
 * gst-launch-1.0. The
 * receiver is the TCP server (tcpserversrc), as vstream's is, and ends at the sender's EOS; one
 * extra untimed run first checks that every frame arrives decoded (`identity silent=false`
 * under -v prints one line per buffer, too slow to leave in the timed runs).
 * The clip is decoded by `decodebin` when GStreamer has an H.264 decoder (gstreamer1.0-libav);
 * otherwise by ffmpeg piping raw I420 into `fdsrc ! rawvideoparse` (`decoder` says which).
 */
export async function gstreamerRate({ clip, frames, shortClip, shortFrames, runs = 3, width, height, quality = 80, ffmpegPath }) {
  if (!has('gst-launch-1.0')) return { skipped: 'gst-launch-1.0 not found (apt install gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good)' };
  const h264 = ['avdec_h264', 'openh264dec', 'v4l2h264dec'].find((e) => has('gst-inspect-1.0', ['--exists', e]));
  if (!h264 && !ffmpegPath) return { skipped: 'GStreamer has no H.264 decoder (gstreamer1.0-libav) and no ffmpegPath was given' };
  const encode = ['jpegenc', `quality=${quality}`, '!', 'multipartmux', '!', 'tcpclientsink', 'host=127.0.0.1'];

  const transfer = async (file, expected, count) => {
    const port = await freePort();
    const sink = count ? ['identity', 'silent=false', '!', 'fakesink', 'sync=false'] : ['fakesink', 'sync=false'];
    const recv = start('gst-launch-1.0', [...(count ? ['-v'] : []), 'tcpserversrc', 'host=127.0.0.1', `port=${port}`, '!', 'multipartdemux', '!', 'jpegdec', '!', ...sink]);
    await recv.waitFor(/PREROLLING/, { stream: 'out' });
    const mem = watchMemory(recv.pid);
    const t0 = performance.now();
    const senders = [];
    if (h264) {
      senders.push(start('gst-launch-1.0', ['-q', 'filesrc', `location=${file}`, '!', 'decodebin', '!', 'videoconvert', '!', ...encode, `port=${port}`, 'sync=false']));
    } else {
      const dec = start(ffmpegPath, ['-nostdin', '-hide_banner', '-loglevel', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'yuv420p', 'pipe:1'], { stdout: 'handover' });
      senders.push(dec, start('gst-launch-1.0', ['-q', 'fdsrc', 'fd=0', '!', 'rawvideoparse', `width=${width}`, `height=${height}`, 'format=i420', 'framerate=30/1', '!', ...encode, `port=${port}`, 'sync=false'], { stdin: dec.child.stdout }));
    }
    const { code, at } = await recv.exited;
    const { peakKb } = mem.stop();
    const ends = await Promise.all(senders.map((s) => s.exited));
    const got = count ? (recv.out.match(/identity0: last-message = chain/g) ?? []).length : expected;
    if (code !== 0 || ends.some((e) => e.code !== 0) || got !== expected) {
      throw new Error(`gstreamer run failed (receiver ${code}, ${got}/${expected} frames): ${recv.err}${senders.map((s) => s.err).join('')}`.trim());
    }
    return { seconds: (at - t0) / 1000, peakRssKb: peakKb };
  };
  // Printing every buffer slows GStreamer's streaming thread, so frames are counted in one
  // untimed run; the timed runs end at the sender's EOS.
  await transfer(shortClip ?? clip, shortClip ? shortFrames : frames, true);
  const once = (file, expected) => transfer(file, expected, false);
  const r = await measureRate({ clip, frames, shortClip, shortFrames, runs, once });
  return { ...r, decoder: h264 ?? 'ffmpeg -> rawvideo pipe -> fdsrc', quality, peakRssMb: median(r.details.map((d) => d.peakRssKb)) / 1024 };
}
