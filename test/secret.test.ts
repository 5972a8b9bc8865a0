/**
 * The shared secret: where it is read from, what is refused, and the keys derived from it.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { loadSecret, MIN_SECRET_BYTES, newSecretText, Secret } from '../src/secret/secret.js';
import { vstream } from './helpers/process.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'vstream-secret-'));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

const TEXT = 'correct horse battery staple';

describe('Secret', () => {
  it('derives the same key from the same text, and unrelated keys for other purposes, contexts and secrets', () => {
    const a = Secret.fromText(TEXT, '--secret');
    const b = Secret.fromText(`${TEXT}\n`, '--secret-file');
    expect(a.derive('tls-psk').equals(b.derive('tls-psk'))).toBe(true);
    expect(a.derive('tls-psk')).toHaveLength(32);
    expect(a.derive('udp', 64)).toHaveLength(64);
    const keys = [a.derive('tls-psk'), a.derive('udp'), a.derive('udp', 32, Buffer.from([1])), a.derive('udp', 32, Buffer.from([2])), Secret.fromText(`${TEXT}!`, '--secret').derive('tls-psk')];
    expect(new Set(keys.map((key) => key.toString('hex'))).size).toBe(keys.length);
    // RFC 5869 HKDF-SHA256 with the documented salt and info, so another implementation can interoperate.
    expect(a.fingerprint).toMatch(/^[0-9a-f]{8}$/);
    expect(a.fingerprint).not.toBe(Secret.fromText(`${TEXT}!`, '--secret').fingerprint);
  });

  it(`refuses a secret under ${MIN_SECRET_BYTES} bytes and one of more than one line, with one line naming where it came from`, () => {
    expect(() => Secret.fromText('short', 'VSTREAM_SECRET')).toThrow(/^the secret from VSTREAM_SECRET is 5 bytes: at least 16 are needed \(make one with: vstream secret\)$/);
    expect(() => Secret.fromText(`${TEXT}\n${TEXT}`, '--secret-file')).toThrow(UsageError);
  });

  it('new secrets are 256 random bits in 43 text-safe characters', () => {
    const one = newSecretText();
    expect(one).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(one, 'base64url')).toHaveLength(32);
    expect(newSecretText()).not.toBe(one);
  });
});

describe('loadSecret', () => {
  it('reads --secret-file, else --secret (with a warning), else VSTREAM_SECRET, else none', async () => {
    const file = join(tmp, 'key');
    await writeFile(file, `${TEXT}\n`, { mode: 0o600 });
    const warnings: string[] = [];
    const warn = (line: string) => warnings.push(line);
    const fromFile = await loadSecret({ secretFile: file, env: { VSTREAM_SECRET: 'x'.repeat(20) }, warn });
    expect(fromFile?.origin).toBe('--secret-file');
    expect(fromFile?.fingerprint).toBe(Secret.fromText(TEXT, '--secret').fingerprint);
    expect(warnings).toEqual([]);
    expect((await loadSecret({ secret: TEXT, env: {}, warn }))?.origin).toBe('--secret');
    expect(warnings).toEqual(['--secret shows the secret to every user of this machine (ps); use --secret-file or VSTREAM_SECRET']);
    expect((await loadSecret({ env: { VSTREAM_SECRET: TEXT } }))?.origin).toBe('VSTREAM_SECRET');
    expect(await loadSecret({ env: { VSTREAM_SECRET: '' } })).toBeUndefined();
    await expect(loadSecret({ secretFile: file, secret: TEXT, env: {} })).rejects.toThrow('--secret-file and --secret cannot be used together');
  });

  it('says when others can read the file, and refuses a missing file, a folder and a large file', async () => {
    const file = join(tmp, 'open-key');
    await writeFile(file, TEXT);
    await chmod(file, 0o644);
    const warnings: string[] = [];
    await loadSecret({ secretFile: file, env: {}, warn: (line) => warnings.push(line) });
    expect(warnings).toEqual([`--secret-file ${file} can be read by other users (chmod 600 ${file})`]);
    await expect(loadSecret({ secretFile: join(tmp, 'none'), env: {} })).rejects.toThrow(`cannot read --secret-file ${join(tmp, 'none')}: no such file`);
    await expect(loadSecret({ secretFile: tmp, env: {} })).rejects.toThrow('not a file');
    const big = join(tmp, 'big');
    await writeFile(big, 'x'.repeat(10_000));
    await expect(loadSecret({ secretFile: big, env: {} })).rejects.toMatchObject({ code: 'ERR_SECRET' });
  });
});

describe('vstream secret', () => {
  it('prints a new secret on one line, exit 0', async () => {
    const run = vstream(['secret']);
    expect(await run.exitCode).toBe(0);
    expect(run.stdout().toString()).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
  });

  it('--out writes it to a new file only its owner can read, never over an existing one, and loads back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vstream-secret-out-'));
    const path = join(dir, 'vstream.key');
    const run = vstream(['secret', '--out', path]);
    expect(await run.exitCode).toBe(0);
    expect(run.stdout().toString()).toBe('');
    expect(run.stderr().toString()).toMatch(/^vstream: wrote a new secret to .*vstream\.key \(mode 600: only you can read it\)/);
    const text = await readFile(path, 'utf8');
    expect(text).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const warnings: string[] = [];
    expect(await loadSecret({ secretFile: path, env: {}, warn: (line) => warnings.push(line) })).toBeDefined();
    expect(warnings).toEqual([]);
    const again = vstream(['secret', '--out', path]);
    expect(await again.exitCode).toBe(2);
    expect(again.stderr().toString()).toMatch(/exists: --out never replaces a secret/);
    expect(await readFile(path, 'utf8')).toBe(text);
  });
});

describe('a secret for a path that would not use it', () => {
  it.each([
    ['send', '--secret', TEXT, '--udp', '--legacy', 'whole'],
    ['recv', '--no-window', '--json', '--secret', TEXT, '--udp', '--legacy'],
  ])('is a usage error, not a stream in the clear: %s %s', async (...args) => {
    const run = vstream(args, { env: { VSTREAM_SECRET: '' } });
    expect(await run.exitCode).toBe(2);
    expect(run.stderr().toString()).toMatch(/^vstream: .*(cannot use a shared secret|secret).*\n$/);
  });
});
