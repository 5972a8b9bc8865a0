#!/usr/bin/env node
// `npm run demo`: a loopback demo on the built-in test pattern, no camera needed. It opens a
// window where a display and SDL are available, and otherwise receives headless and prints
// per-second stats. Both ends are the real CLI.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/vstream.js', import.meta.url));
const frames = process.env.DEMO_FRAMES ?? '150';
const headless = process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY;

const recvArgs = ['recv', '--listen', '0', '--frames', frames, '--stats'];
if (headless) recvArgs.push('--no-window', '--save-dir', 'demo-frames');
console.log(`$ vstream ${recvArgs.join(' ')}`);
const recv = spawn(process.execPath, [bin, ...recvArgs], { stdio: ['ignore', 'inherit', 'pipe'] });

let sender;
let seen = '';
recv.stderr.on('data', (chunk) => {
  process.stderr.write(chunk);
  seen += chunk;
  const port = /listening on .*?(\d+)(?:\s|$)/.exec(seen)?.[1];
  if (port && !sender) {
    const sendArgs = ['send', '--pattern', '--to', `[::1]:${port}`, '--label', 'demo'];
    console.log(`$ vstream ${sendArgs.join(' ')}`);
    sender = spawn(process.execPath, [bin, ...sendArgs], { stdio: ['ignore', 'inherit', 'pipe'] });
    // The sender exits with "receiver closed the connection" when the demo's frame count is
    // reached: expected here, so its stderr is shown only if the receiver failed.
    let senderErr = '';
    sender.stderr.on('data', (c) => (senderErr += c));
    recv.on('close', (code) => {
      if (code !== 0) process.stderr.write(senderErr);
    });
  }
});
recv.on('close', (code) => {
  sender?.kill();
  if (code === 0) console.log(headless ? 'demo done: frames saved in ./demo-frames/demo/ (no display, so no window)' : 'demo done');
  process.exitCode = code ?? 1;
});
