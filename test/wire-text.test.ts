import { describe, it, expect } from 'vitest';
import { wireText, MAX_WIRE_TEXT_CHARS } from '../src/text/wire-text.js';
import { RateLimitedLog } from '../src/cli/rate-limited-log.js';

describe('wireText', () => {
  it('escapes control bytes, DEL, C1 and bidi overrides as \\xNN / \\u{NNNN}', () => {
    expect(wireText('cam\x1b[2J\x07\r\n\x7f\x9b')).toBe('cam\\x1b[2J\\x07\\x0d\\x0a\\x7f\\x9b');
    expect(wireText('a\u202eb\u2066c')).toBe('a\\u{202e}b\\u{2066}c');
  });

  it('keeps printable text, accents and emoji as they are', () => {
    expect(wireText('cam-1 é ж 🎥')).toBe('cam-1 é ж 🎥');
  });

  it('cuts to 64 characters (not bytes, never half an emoji) and marks the cut', () => {
    expect(wireText('x'.repeat(60_000))).toBe(`${'x'.repeat(MAX_WIRE_TEXT_CHARS)}…`);
    expect(wireText('🎥'.repeat(100))).toBe(`${'🎥'.repeat(64)}…`);
    expect(wireText('y'.repeat(64))).toBe('y'.repeat(64));
  });
});

describe('RateLimitedLog', () => {
  function harness(burst?: number) {
    let now = 0;
    const lines: string[] = [];
    const log = new RateLimitedLog<string>((line) => lines.push(line), { now: () => now, ...(burst !== undefined && { burst }) });
    return { log, lines, advance: (ms: number) => (now += ms) };
  }

  it('prints the first problem of a kind at once and counts the rest of that second in one line', () => {
    const { log, lines, advance } = harness();
    for (let i = 0; i < 1000; i++) log.report({ code: 'ERR_X', message: `bad frame ${i}` });
    log.report({ code: 'ERR_Y', message: 'other kind' });
    expect(lines).toEqual(['bad frame 0 (ERR_X)', 'other kind (ERR_Y)']);
    advance(1000);
    log.report({ code: 'ERR_X', message: 'bad frame 1000' });
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('999 more (ERR_X) in the last 1.0 s, the latest: bad frame 999');
    // The count line used up this second's line: the newest waits for close().
    log.close();
    expect(lines[3]).toBe('bad frame 1000 (ERR_X)');
    expect(log.totals().get('ERR_X')).toBe(1001);
  });

  it('lets a burst through per second for connection lines', () => {
    const { log, lines } = harness(3);
    for (let i = 0; i < 5; i++) log.report({ code: 'connected', message: `peer ${i}` });
    expect(lines).toHaveLength(3);
    log.close();
    expect(lines[3]).toMatch(/^2 more \(connected\), the latest: peer 4$/);
  });
});
