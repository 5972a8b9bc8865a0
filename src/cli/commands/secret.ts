import { writeFile } from 'node:fs/promises';
import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { newSecretText } from '../../secret/secret.js';
import { warn } from '../handle-error.js';

export function secretCommand(): Command {
  return new Command('secret')
    .description('print a new random shared secret (256 bits) for --secret-file')
    .option('--out <path>', 'write it to this new file instead, readable by you only (never replaces one)')
    .addHelpText('after', '\nExample:\n  vstream secret --out vstream.key          # or: vstream secret > vstream.key && chmod 600 vstream.key\n  vstream recv --secret-file vstream.key    # and the same file on the sender')
    .action(async ({ out }: { out?: string }) => {
      const text = `${newSecretText()}\n`;
      if (out === undefined) {
        process.stdout.write(text);
        return;
      }
      await writeSecretFile(out, text);
      warn(`wrote a new secret to ${out} (mode 600: only you can read it); give every end the same file`);
    });
}

/** Created here, never overwritten: replacing a secret in use would cut off every other end. */
async function writeSecretFile(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new UsageError(`${path} exists: --out never replaces a secret (remove it first, then give every end the new one)`, 'ERR_SECRET');
    throw new UsageError(`cannot write ${path}: ${code === 'ENOENT' ? 'no such folder' : (err as Error).message}`, 'ERR_SECRET');
  }
}
