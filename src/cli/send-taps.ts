/**
 * Taps on `send`'s frames: consumers of the frames the send loop sends, beside the transport
 * (`send --listen 9000 --http 8080` shows the sender's own frames in a browser). A new kind is
 * a file declaring a SendTapKind plus a line here; the send loop knows no kind by name.
 */
import { mergeSchemas, type OptionSchema, type UnionToIntersection } from '../options/schema.js';
import { openAll } from './open-all.js';
import { httpSendTap } from '../sink/http/send-tap.js';
import type { SendTap, SendTapContext, SendTapKind } from '../sink/send-tap.js';

export const SEND_TAPS = [httpSendTap] as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnySendTapKind = SendTapKind<any>;

export const sendTapOptions = mergeSchemas(...SEND_TAPS.map((tap) => tap.options as OptionSchema)) as UnionToIntersection<(typeof SEND_TAPS)[number]['options']>;

/** The flags of the taps these settings ask for. */
export function askedTaps(settings: Readonly<Record<string, unknown>>): string[] {
  return (SEND_TAPS as readonly AnySendTapKind[]).flatMap((tap) => tap.asked(settings) ?? []);
}

/** Opens every tap the settings ask for; closes those opened when one fails. */
export function openSendTaps(settings: Readonly<Record<string, unknown>>, context: SendTapContext): Promise<SendTap[]> {
  return openAll(SEND_TAPS as readonly AnySendTapKind[], (kind) => kind.open(settings, context));
}
