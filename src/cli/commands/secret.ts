import { Command } from 'commander';
import { newSecretText } from '../../secret/secret.js';

export function secretCommand(): Command {
  return new Command('secret')
    .description('print a new random shared secret (256 bits) for --secret-file')
    .addHelpText('after', '\nExample:\n  vstream secret > vstream.key && chmod 600 vstream.key\n  vstream recv --secret-file vstream.key    # and the same file on the sender')
    .action(() => {
      process.stdout.write(`${newSecretText()}\n`);
    });
}
