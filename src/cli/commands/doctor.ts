import { Command } from 'commander';
import { runDoctor } from '../doctor.js';

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('show which ffmpeg is used, whether windows work, and the cameras found')
    .option('--ffmpeg <path>', 'ffmpeg binary to check (also VSTREAM_FFMPEG)')
    .action(async (raw: { ffmpeg?: string }) => {
      process.exitCode = await runDoctor(raw.ffmpeg !== undefined ? { ffmpeg: raw.ffmpeg } : {});
    });
}
