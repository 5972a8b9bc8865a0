/** The viewer's URL names and routes, on their own. */
import { describe, expect, it } from 'vitest';
import { route } from '../src/sink/http/routes.js';
import { StreamNames, urlSafeName } from '../src/sink/http/stream-names.js';
import { partChunks, openingBytes } from '../src/sink/http/multipart.js';

describe('stream names', () => {
  it.each([
    ['Front door', 'front-door'],
    ['[::1]:5000', '1-5000'],
    ['192.168.1.2:40000', '192.168.1.2-40000'],
    ['..', 'stream'],
    ['../../etc', 'etc'],
    ['', 'stream'],
    ['Café ☕', 'cafe'],
    ['a'.repeat(300), 'a'.repeat(48)],
    ['<script>', 'script'],
  ])('%j is %j', (display, name) => {
    expect(urlSafeName(display)).toBe(name);
  });

  it('are unique among live streams and free again once released', () => {
    const names = new StreamNames();
    expect([names.take('cam'), names.take('cam'), names.take('Cam')]).toEqual(['cam', 'cam-2', 'cam-3']);
    names.release('cam');
    expect(names.take('cam')).toBe('cam');
  });
});

describe('routes', () => {
  it.each([
    ['GET', '/', { kind: 'page' }],
    ['GET', '/?foo=1', { kind: 'page' }],
    ['HEAD', '/index.html', { kind: 'page' }],
    ['GET', '/?action=stream', { kind: 'stream', stream: { first: true } }],
    ['GET', '/?action=snapshot', { kind: 'snapshot', stream: { first: true } }],
    ['GET', '/stream', { kind: 'stream', stream: { first: true } }],
    ['GET', '/stream?advance_headers=1', { kind: 'stream', stream: { first: true }, advanceHeaders: true }],
    ['GET', '/stream/cam?advance_headers=0', { kind: 'stream', stream: { name: 'cam' }, advanceHeaders: false }],
    ['GET', '/snapshot', { kind: 'snapshot', stream: { first: true } }],
    ['GET', '/stream/cam-2', { kind: 'stream', stream: { name: 'cam-2' } }],
    ['GET', '/snapshot/cam-2.jpg', { kind: 'snapshot', stream: { name: 'cam-2' } }],
    ['GET', '/streams.json?x', { kind: 'streams' }],
    ['GET', '/stream/..', { kind: 'not-found' }],
    ['GET', '/stream/CAM', { kind: 'not-found' }],
    ['GET', '/stream/%2e%2e', { kind: 'not-found' }],
    ['GET', 'http://x/', { kind: 'not-found' }],
    ['POST', '/', { kind: 'method-not-allowed' }],
    ['DELETE', '/stream', { kind: 'method-not-allowed' }],
  ])('%s %s', (method, target, expected) => {
    expect(route(method, target)).toEqual(expected);
  });
});

describe('multipart parts', () => {
  const frame = { data: Buffer.from([0xff, 0xd8, 0xff, 0xd9]), type: 'jpeg' as const, captureTime: 1_700_000_000_123.456 };

  it('carry the length and the capture time, and end with the next boundary', () => {
    const bytes = Buffer.concat(partChunks(frame, false, 0)).toString('latin1');
    expect(bytes).toBe(`Content-Type: image/jpeg\r\nContent-Length: 4\r\nX-Timestamp: 1700000000.123456\r\n\r\n\xff\xd8\xff\xd9\r\n--boundarydonotcross\r\n`);
    expect(openingBytes(false).toString()).toBe('--boundarydonotcross\r\n');
  });

  it('with advance headers, send the next part’s headers right after the image', () => {
    expect(openingBytes(true).toString()).toBe('--boundarydonotcross\r\nContent-Type: image/jpeg\r\n\r\n');
    const bytes = Buffer.concat(partChunks(frame, true, 0)).toString('latin1');
    expect(bytes).toBe(`\xff\xd8\xff\xd9\r\n--boundarydonotcross\r\nContent-Type: image/jpeg\r\n\r\n`);
  });
});
