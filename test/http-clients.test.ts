/**
 * recv --http with the clients people point at a camera: ffmpeg and OpenCV read its MJPEG at
 * µStreamer's and mjpg-streamer's URLs; and twenty clients that read slowly cost the fast one
 * nothing and the receiver no memory.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { runFfmpeg, FFMPEG } from './helpers/ffmpeg.js';
import { CV2_SKIP_REASON, HAVE_CV2, PYTHON } from './helpers/python.js';
import { start, startProcess, stopAll, vstream } from './helpers/process.js';
import { fetchBody, open, PartReader, startHttpViewer } from './helpers/mjpeg-http.js';

afterEach(async () => {
  await stopAll();
});

/** Waits until the first stream is served (its first frame has arrived). */
async function firstFrame(base: string): Promise<void> {
  while ((await fetchBody(`${base}/snapshot`)).status !== 200) await new Promise((resolve) => setImmediate(resolve));
}

async function framesOf(base: string): Promise<number> {
  const list = JSON.parse((await fetchBody(`${base}/streams.json`)).body.toString()) as { streams: { frames: number }[] };
  return list.streams[0]!.frames;
}

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
}

describe('recv --http and MJPEG clients', () => {
  it.each(['/stream', '/?action=stream', '/stream/cam'])('ffmpeg reads 20 frames from %s', async (path) => {
    const { recv, base } = await startHttpViewer();
    vstream(['send', '--pattern', '--fps', '30', '--label', 'cam', '--to', `127.0.0.1:${recv.port}`, '-q']);
    await firstFrame(base);
    // One line per packet read: exactly the frames asked for, each a whole JPEG.
    const out = await runFfmpeg(['-f', 'mpjpeg', '-i', `${base}${path}`, '-frames:v', '20', '-f', 'framemd5', '-']);
    const packets = out.toString().split('\n').filter((line) => /^0,/.test(line));
    expect(packets).toHaveLength(20);
    // Decoded too: the metadata segment is an APP7 segment every decoder skips.
    await runFfmpeg(['-i', `${base}${path}`, '-frames:v', '5', '-f', 'null', '-']);
  });

  it('ffmpeg probes the stream without -f as MJPEG', async () => {
    const { recv, base } = await startHttpViewer();
    vstream(['send', '--pattern', '--size', '320x240', '--to', `127.0.0.1:${recv.port}`, '-q']);
    await firstFrame(base);
    const { execFile } = await import('node:child_process');
    const probe = await new Promise<string>((resolve, reject) =>
      execFile(FFMPEG.replace(/ffmpeg$/, 'ffprobe'), ['-v', 'error', '-show_entries', 'stream=codec_name,width,height', '-of', 'csv=p=0', `${base}/stream`], (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    expect(probe.trim()).toBe('mjpeg,320,240');
  });

  it.skipIf(!HAVE_CV2)(`OpenCV's VideoCapture(url) reads 20 frames from /stream and /?action=stream${CV2_SKIP_REASON ? ` (skipped: ${CV2_SKIP_REASON})` : ''}`, async () => {
    const { recv, base } = await startHttpViewer();
    vstream(['send', '--pattern', '--fps', '30', '--to', `127.0.0.1:${recv.port}`, '-q']);
    await firstFrame(base);
    // As a tutorial writes it.
    const script = [
      'import hashlib, sys, cv2',
      'cap = cv2.VideoCapture(sys.argv[1])',
      'n = 0',
      'while n < 20:',
      '    ok, frame = cap.read()',
      '    if not ok:',
      '        break',
      '    n += 1',
      '    print(frame.shape[1], frame.shape[0], int(frame.mean()), hashlib.md5(frame.tobytes()).hexdigest())',
      'print("read", n)',
    ].join('\n');
    for (const path of ['/stream', '/?action=stream']) {
      const python = start(PYTHON, ['-c', script, `${base}${path}`]);
      expect(await python.exitCode).toBe(0);
      const lines = python.output('stdout');
      expect(lines.at(-1), path).toBe('read 20');
      expect(lines[0]).toMatch(/^640 480 \d+ [0-9a-f]{32}$/);
      // Not a black frame, and a moving picture: the pattern's moving bar keeps its mean
      // brightness, so the frames are told apart by their pixels.
      expect(Number(lines[0]!.split(' ')[2])).toBeGreaterThan(10);
      expect(new Set(lines.slice(0, 20).map((l) => l.split(' ')[3])).size).toBeGreaterThan(1);
    }
  });

  it('twenty slow clients get fewer frames, never older ones; the fast client keeps the full rate and recv memory stays bounded', async () => {
    const { recv, base, httpPort } = await startHttpViewer(['--http-max-clients', '64']);
    vstream(['send', '--pattern', '--fps', '30', '--quality', '90', '--label', 'cam', '--to', `127.0.0.1:${recv.port}`, '-q']);
    await firstFrame(base);
    const rssBefore = await rssKb(recv.child.pid!);
    // Twenty readers with a 4 KB receive buffer that take 1 KB from each socket about ten
    // times a second (the wait for "stop" on stdin is their pace): 10 KB/s each, for a stream
    // of about 1 MB/s. Socket 0 keeps what it read.
    const slow = [
      'import select, socket, sys',
      'socks = []',
      'for i in range(20):',
      '    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)',
      '    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)',
      "    s.connect(('127.0.0.1', int(sys.argv[1])))",
      "    s.sendall(b'GET /stream HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')",
      '    socks.append(s)',
      "print('connected', flush=True)",
      "kept = b''",
      'while not select.select([sys.stdin], [], [], 0.1)[0]:',
      '    for i, s in enumerate(socks):',
      '        data = s.recv(1024)',
      '        if i == 0:',
      '            kept += data',
      "stamps = [float(x.split(b':')[1]) for x in kept.split(b'\\r\\n') if x.startswith(b'X-Timestamp:')]",
      "print('stamps', ' '.join('%.6f' % t for t in stamps), flush=True)",
    ].join('\n');
    const python = startProcess('slow clients', PYTHON, ['-u', '-c', slow, String(httpPort)]);
    await python.waitForLine(/^connected$/, 'stdout');
    const fast = new PartReader(await open(`${base}/stream/cam`));
    // Counted over 150 frames of the stream (5 s at 30 fps), while the slow ones crawl.
    const from = await framesOf(base);
    let got = 0;
    let last = 0;
    while ((await framesOf(base)) - from < 150) {
      const part = (await fast.next())!;
      const stamp = Number(part.headers['x-timestamp']);
      expect(stamp).toBeGreaterThan(last);
      last = stamp;
      got += 1;
    }
    const sent = (await framesOf(base)) - from;
    const rssAfter = await rssKb(recv.child.pid!);
    python.child.stdin!.end('stop\n');
    const [, stampText] = await python.waitForLine(/^stamps ?(.*)$/, 'stdout');
    fast.close();
    if (process.env.HTTP_TEST_FIGURES) console.log({ got, sent, slowFrames: stampText!.split(' ').filter(Boolean).length, rssBefore, rssAfter });
    // The fast client kept up within a frame or two of the stream (a frame arriving while it
    // was being counted may be replaced).
    expect(got).toBeGreaterThanOrEqual(sent - 5);
    // A slow client got a few frames only, each newer than the last.
    const stamps = stampText!.split(' ').filter(Boolean).map(Number);
    expect(stamps.length).toBeGreaterThan(0);
    expect(stamps.length).toBeLessThan(sent / 4);
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]!).toBeGreaterThan(stamps[i - 1]!);
    // Each slow client holds at most the frame its socket is taking and the one waiting for it,
    // both the stream's own buffers (about 60 KB each): some 2.4 MB for twenty. 48 MB is that
    // with room for the garbage collector's slack; a per-client queue would grow by about
    // 1 MB/s per client, 100 MB over this test.
    expect(rssAfter - rssBefore, `RSS ${rssBefore} kB -> ${rssAfter} kB`).toBeLessThan(48 * 1024);
    expect(recv.exitInfo).toBeUndefined();
  });
});
