import { UsageError } from '../errors.js';
import { optionalValue } from '../options/schema.js';

export const DEFAULT_ACK = 'OK';

/** `recv --ack [text]`, which TCP and both UDP formats honour. */
export const ackOption = optionalValue('--ack [text]', `reply TEXT after each frame (default "${DEFAULT_ACK}")`, (raw) => {
  // A sender waiting for a reply would wait forever for an empty one.
  if (raw === '') throw new UsageError('--ack TEXT must not be empty');
  return raw === true ? DEFAULT_ACK : raw;
});
