// The HTTP viewer's cost: frames/s delivered to each of N MJPEG clients of `recv --http`, and
// the receiver's CPU, against the same receiver with no HTTP client.
import { request } from 'node:http';
import { cpuSeconds, startReceiver, start, vstream } from '../../tools/proc.mjs';
import { median } from '../../tools/table.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const BOUNDARY = Buffer.from('\r\n--boundarydonotcross\r\n');

/** An MJPEG client that counts the parts it has read (the boundary after each image). */
function mjpegClient(url) {
  const client = { parts: 0, req: undefined };
  client.req = request(url, { agent: false }, (res) => {
    let carry = Buffer.alloc(0);
    res.on('data', (chunk) => {
      // Only the tail of the previous chunk can hold the start of a boundary cut in two.
      const data = carry.length ? Buffer.concat([carry, chunk]) : chunk;
      for (let at = data.indexOf(BOUNDARY); at !== -1; at = data.indexOf(BOUNDARY, at + BOUNDARY.length)) client.parts += 1;
      carry = data.subarray(Math.max(0, data.length - BOUNDARY.length + 1));
    });
  });
  client.req.on('error', () => {});
  client.req.end();
  return client;
}

/**
 * For each N in `clients`: `recv --no-window --http PORT` fed by one `send --pattern --fps FPS
 * --size SIZE`; N clients of `/stream` in this process (their CPU is not the receiver's),
 * `seconds` measured after a 1 s warm-up. Per level: the stream's frames/s at the receiver
 * (from /streams.json), each client's frames/s (min and median), the receiver's CPU in cores
 * and in ms per received frame.
 */
export async function httpViewer({ clients = [0, 1, 10], size = '640x480', fps = 30, seconds = 5 }) {
  const levels = [];
  for (const n of clients) levels.push(await level({ n, size, fps, seconds }));
  return { levels, size, fps, seconds };
}

async function streamFrames(base) {
  const body = await new Promise((resolve, reject) => {
    const req = request(`${base}/streams.json`, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => (text += c)).on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end();
  });
  return JSON.parse(body).streams[0]?.frames ?? 0;
}

async function level({ n, size, fps, seconds }) {
  const { p: recv, port } = await startReceiver(['--no-window', '--http', '0']);
  const [, httpPort] = await recv.waitFor(/serving HTTP on port (\d+)/);
  const base = `http://127.0.0.1:${httpPort}`;
  const sender = start(...vstream('send', '--pattern', '--fps', String(fps), '--size', size, '--to', `127.0.0.1:${port}`, '-q'));
  try {
    while ((await streamFrames(base)) === 0) await sleep(50);
    const viewers = Array.from({ length: n }, () => mjpegClient(`${base}/stream`));
    await sleep(1000);
    const parts0 = viewers.map((v) => v.parts);
    const frames0 = await streamFrames(base);
    const cpu0 = cpuSeconds(recv.pid);
    await sleep(seconds * 1000);
    const cpu1 = cpuSeconds(recv.pid);
    const frames1 = await streamFrames(base);
    const perClient = viewers.map((v, i) => (v.parts - parts0[i]) / seconds);
    viewers.forEach((v) => v.req.destroy());
    const received = frames1 - frames0;
    return {
      clients: n,
      streamFps: received / seconds,
      clientFps: { min: n ? Math.min(...perClient) : null, median: n ? median(perClient) : null },
      recvCpuCores: (cpu1 - cpu0) / seconds,
      recvCpuMsPerFrame: received ? ((cpu1 - cpu0) * 1000) / received : null,
    };
  } finally {
    sender.kill('SIGINT');
    await sender.exited;
    recv.kill('SIGINT');
    await recv.exited;
  }
}
