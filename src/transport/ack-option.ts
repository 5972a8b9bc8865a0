import { UsageError } from '../errors.js';
import { optionalValue, valueOr } from '../options/schema.js';

export const DEFAULT_ACK = 'OK';

/** `recv --ack [text]`, which TCP and both UDP formats honour. */
export const ackOption = optionalValue('--ack [text]', `the reply written after a frame (default "${DEFAULT_ACK}"); see --ack-mode`, (raw) => {
  // A sender waiting for a reply would wait forever for an empty one.
  if (raw === '') throw new UsageError('--ack TEXT must not be empty');
  return raw === true ? DEFAULT_ACK : raw;
});

export const ACK_MODES = ['auto', 'always', 'never'] as const;
export type AckMode = (typeof ACK_MODES)[number];

/** `recv --ack-mode`, shared by TCP and both UDP formats (one spec, so the option is declared once). */
export const ackModeOption = valueOr(
  '--ack-mode <mode>',
  'when to reply after a frame: auto (TCP: to senders that wait for it), always, never (default auto)',
  (text): AckMode => {
    const mode = ACK_MODES.find((m) => m === text.trim());
    if (!mode) throw new UsageError(`invalid --ack-mode "${text}": expected ${ACK_MODES.join(', ')}`);
    return mode;
  },
  'auto' as AckMode,
);

/**
 * The reply text a receiver is given, or undefined for none: `autoReplies` says whether the
 * transport replies in auto mode without `--ack` (TCP and legacy UDP do; vstream UDP only with it).
 */
export function replyText(settings: { ack: string | undefined; ackMode: AckMode }, autoReplies: boolean): string | undefined {
  if (settings.ackMode === 'never') {
    if (settings.ack !== undefined) throw new UsageError('--ack TEXT with --ack-mode never: nothing would be sent; drop one of them');
    return undefined;
  }
  if (settings.ackMode === 'always' || autoReplies) return settings.ack ?? DEFAULT_ACK;
  return settings.ack;
}
