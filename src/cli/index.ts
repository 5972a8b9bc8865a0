import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { sendCommand } from './commands/send.js';
import { recvCommand } from './commands/recv.js';
import { doctorCommand } from './commands/doctor.js';
import { secretCommand } from './commands/secret.js';
import { handleError } from './handle-error.js';
import { ExitCode } from '../errors.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function buildProgram(): Command {
  const program = new Command('vstream')
    .description('stream live video frames between machines: JPEG frames over TCP, 16-byte length headers')
    .version(version())
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  vstream recv --listen 8088                      show frames in a window
  vstream send --camera 0 --to [::1]:8088         send a camera
  vstream send --file clip.mp4 --to 10.0.0.5:8088
  vstream recv --no-window --output - | ffplay -f mjpeg -i -

Exit codes: 0 ok, 1 internal error, 2 usage, 3 network, 4 source, 5 ffmpeg,
6 protocol, 7 display, 8 output, 9 authentication, 130 interrupted.`,
    );
  program.addCommand(sendCommand());
  program.addCommand(recvCommand());
  program.addCommand(doctorCommand());
  program.addCommand(secretCommand());
  program.exitOverride();
  for (const command of program.commands) command.exitOverride();
  return program;
}

/** Entry point of the `vstream` binary. */
export async function main(argv: string[]): Promise<void> {
  // `vstream ... | head` closes the pipe early: that ends output, it is not a crash. Sinks that
  // write to stdout watch for it themselves and wind down.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') process.exitCode = handleError(err);
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed its message (or the help).
      const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
      process.exitCode = ok ? ExitCode.OK : ExitCode.USAGE;
      return;
    }
    process.exitCode = handleError(err);
  }
}
