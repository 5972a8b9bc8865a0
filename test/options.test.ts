import { Command, CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { recvCommand, recvSchema, recvSettings } from '../src/cli/commands/recv.js';
import { sendCommand, sendSchema, sendSettings } from '../src/cli/commands/send.js';
import { MAX_DECODE_PIXELS } from '../src/decode/turbo.js';
import { UsageError } from '../src/errors.js';
import { MAX_DIMENSION } from '../src/options/limits.js';
import { parseSize } from '../src/options/parsers.js';
import { addOptions, flag, mergeSchemas, missingNeeds, negatable, parseSettings, value, valueOr, valueWithDefault, type OptionSchema } from '../src/options/schema.js';
import { openSource } from '../src/source/index.js';
import { SOURCES } from '../src/source/registry.js';
import { DEFAULT_RATE_BYTES_PER_SECOND } from '../src/transport/pacer.js';
import { DEFAULT_RECV_BUFFER_BYTES } from '../src/transport/udp-socket.js';
import { DEFAULT_MAX_WINDOWS } from '../src/sink/window/window-sink.js';

/** What commander hands the action for these arguments, without running it. */
function rawOptions(schema: OptionSchema, args: string[]): Record<string, string | boolean | undefined> {
  const command = addOptions(new Command('test').exitOverride().configureOutput({ writeErr: () => {} }), schema);
  command.parse(args, { from: 'user' });
  return command.opts();
}

const send = (...args: string[]) => sendSettings(rawOptions(sendSchema, args));
const recv = (...args: string[]) => recvSettings(rawOptions(recvSchema, args));

describe('option schema', () => {
  const schema = {
    count: value('--count <n>', 'how many', Number),
    rate: valueOr('--rate <n>', 'how fast', Number, 5),
    to: valueWithDefault('--to <where>', 'where', (text) => text.toUpperCase(), 'home'),
    loud: flag('--loud', 'be loud'),
    colour: negatable('--no-colour', 'no colour'),
  };

  it('applies each default once, from the schema, and parses a shown default like typed text', () => {
    expect(parseSettings(schema, rawOptions(schema, []))).toEqual({ count: undefined, rate: 5, to: 'HOME', loud: false, colour: true });
    expect(parseSettings(schema, rawOptions(schema, ['--count', '3', '--rate', '7', '--to', 'x', '--loud', '--no-colour']))).toEqual({
      count: 3,
      rate: 7,
      to: 'X',
      loud: true,
      colour: false,
    });
  });

  it('gives commander each option once, with the shown default only where declared', () => {
    const command = addOptions(new Command('test'), schema);
    expect(command.options.map((o) => o.long)).toEqual(['--count', '--rate', '--to', '--loud', '--no-colour']);
    // `--no-colour`'s true comes from commander itself, not from the option.
    expect(command.options.slice(0, 4).map((o) => o.defaultValue)).toEqual([undefined, undefined, 'home', undefined]);
  });

  it('keeps an option two kinds share once, and refuses two different options under one name', () => {
    const shared = flag('--udp', 'over UDP');
    expect(Object.keys(mergeSchemas({ udp: shared, a: flag('--a', 'a') }, { udp: shared, b: flag('--b', 'b') }))).toEqual(['udp', 'a', 'b']);
    expect(() => mergeSchemas({ udp: shared }, { udp: flag('--udp', 'other') })).toThrow(/declared twice/);
  });

  it('names the options given without the flag they need, switches first', () => {
    const needy = { size: value('--size <n>', 's', Number, { needs: '--udp' }), legacy: flag('--legacy', 'l', { needs: '--udp' }) };
    const raw = rawOptions(needy, ['--size', '3', '--legacy']);
    expect(missingNeeds(needy, raw, () => false)).toBe('--legacy and --size need --udp');
    expect(missingNeeds(needy, raw, (f) => f === '--udp')).toBeUndefined();
  });
});

describe('send settings', () => {
  it('are complete with no option given', () => {
    expect(send()).toMatchObject({
      source: { kind: 'pattern' },
      transport: 'tcp',
      to: { host: '127.0.0.1', port: 8088 },
      stallTimeoutMs: 10_000,
      rate: DEFAULT_RATE_BYTES_PER_SECOND,
      metadata: true,
      waitAck: false,
      quiet: false,
    });
    expect(send().size).toBeUndefined();
  });

  it('pick the source and transport the options name', () => {
    expect(send('--file', 'a.mp4', '--loop').source).toEqual({ kind: 'file', path: 'a.mp4', loop: true });
    expect(send('--camera', '2').source).toEqual({ kind: 'camera', device: '2' });
    expect(send('--udp').transport).toBe('udp');
    expect(send('--udp', '--legacy').transport).toBe('udp-legacy');
  });

  it.each([
    [['--camera', '0', '--file', 'x', '--dir', 'y'], 'choose one source: --camera and --file and --dir were given'],
    [['--pattern', '--loop'], '--loop applies to --file only'],
    [['--legacy', '--packet-size', '1400', '--rate', '1M'], '--legacy and --packet-size and --rate need --udp'],
    [['--udp', '--legacy', '--rate', '1M'], '--rate does not apply to --legacy, which waits for a reply after each frame'],
    [['--udp', '--wait-ack'], /^--wait-ack does not apply to --udp/],
    [['--size', `${MAX_DIMENSION + 2}x2`], `invalid --size "${MAX_DIMENSION + 2}x2": expected WIDTHxHEIGHT, e.g. 640x480`],
    [['--label', ''], 'invalid --label: expected 1 to 200 characters'],
    [['--stall-timeout', '0'], 'invalid --stall-timeout "0": expected a number of seconds, more than 0 and up to 86400'],
  ])('refuse %j with a one-line usage error', (args, message) => {
    expect(() => send(...args)).toThrow(UsageError);
    expect(() => send(...args)).toThrow(message);
  });
});

describe('recv settings', () => {
  it('are complete with no option given', () => {
    expect(recv()).toMatchObject({
      port: 8088,
      transport: 'tcp',
      window: true,
      maxWindows: DEFAULT_MAX_WINDOWS,
      format: 'jpeg',
      maxPixels: MAX_DECODE_PIXELS,
      recvBuffer: DEFAULT_RECV_BUFFER_BYTES,
      json: false,
      stats: false,
      quiet: false,
    });
  });

  it('read a bare --ack as the default reply and pick the UDP formats', () => {
    expect(recv('--ack').ack).toBe('OK');
    expect(recv('--ack', 'yes').ack).toBe('yes');
    expect(recv('--udp', '--legacy').transport).toBe('udp-legacy');
  });

  it.each([
    [['--json', '--output', '-'], '--json and --output - both write to standard output: write the frames to a file instead'],
    [['--ack', ''], '--ack TEXT must not be empty'],
    [['--legacy', '--max-age', '100', '--recv-buffer', '1M'], '--legacy and --max-age and --recv-buffer need --udp'],
    [['--udp', '--legacy', '--recv-buffer', '1M'], '--recv-buffer does not apply to --legacy'],
    [['--format', 'yuv'], 'invalid --format "yuv": expected jpeg, rgb24, bgr24, gray'],
    [['--format', 'gray'], '--format gray needs --output FILE or --output -'],
    [['--size', '10x10', '--output', 'x'], '--size applies to the pixel formats (--format rgb24, bgr24, gray)'],
    [['--max-windows', '0'], 'invalid --max-windows "0": expected a whole number from 1 to 1000'],
  ])('refuse %j with a one-line usage error', (args, message) => {
    expect(() => recv(...args)).toThrow(UsageError);
    expect(() => recv(...args)).toThrow(message);
  });
});

describe('commands', () => {
  it('list every option of their schema once', () => {
    for (const [command, schema] of [
      [sendCommand(), sendSchema],
      [recvCommand(), recvSchema],
    ] as const) {
      const longs = command.options.map((o) => o.long);
      expect(new Set(longs).size).toBe(longs.length);
      expect(longs.length).toBe(Object.keys(schema).length);
    }
    const sendLongs = sendCommand().options.map((o) => o.long);
    for (const kind of SOURCES) expect(sendLongs).toContain(`--${kind.selector}`);
  });

  it('refuse an unknown option through commander', () => {
    expect(() => rawOptions(sendSchema, ['--nope'])).toThrow(CommanderError);
  });
});

describe('shared limits', () => {
  it('one MAX_DIMENSION for the command line and the library', async () => {
    expect(parseSize(`${MAX_DIMENSION}x2`)).toEqual({ width: MAX_DIMENSION, height: 2 });
    expect(() => parseSize(`${MAX_DIMENSION + 2}x2`)).toThrow(UsageError);
    await expect(openSource({ kind: 'dir', ffmpegPath: '', path: '.', size: { width: MAX_DIMENSION + 1, height: 2 } })).rejects.toThrow(
      `--size must be WxH with each side from 1 to ${MAX_DIMENSION}`,
    );
  });
});
