/**
 * `--udp --legacy`: the reference programs' format (a length datagram, 1024-byte pieces, a
 * reply per frame). Its sender always waits for the reply, as the reference client does.
 * `send --legacy whole` sends each image as one datagram instead, for servers that decode
 * every datagram; `recv --legacy` takes both, and JSON messages.
 */
import { UsageError } from '../errors.js';
import { optionalValue, type OptionSpec } from '../options/schema.js';
import { ackModeOption, ackOption, replyText } from './ack-option.js';
import type { TransportKind } from './kind.js';
import { maxAgeOption, packetSizeOption, splitBudget, udpRecvFlag, udpSendFlag } from './udp.js';
import { LegacyUdpReceiver } from './udp-legacy-receiver.js';
import { LegacyUdpSender, type LegacyFormat } from './udp-legacy-sender.js';
import { DEFAULT_MAX_QUEUED_FRAMES as UDP_LIVE_DEPTH } from './receiver-core.js';

const LEGACY_DESCRIPTION = "with --udp: the reference programs' format (length datagram, 1024-byte pieces, a reply per frame)";

/** `--legacy [chunked|whole]`: a value, not a switch, so a bare `--legacy` is `chunked` as before. */
function legacyOption(description: string): OptionSpec<LegacyFormat, false> {
  return {
    ...optionalValue('--legacy [format]', description, (raw): LegacyFormat => {
      if (raw === true || raw === 'chunked') return 'chunked';
      if (raw === 'whole') return 'whole';
      throw new UsageError(`--legacy takes chunked (the default) or whole, got ${JSON.stringify(raw)}`);
    }),
    needs: '--udp',
  };
}

const sendOptions = {
  udp: udpSendFlag,
  packetSize: packetSizeOption,
  legacy: legacyOption(`${LEGACY_DESCRIPTION}; "whole": each image as one datagram, for servers that decode every datagram`),
};

const recvOptions = {
  udp: udpRecvFlag,
  maxAgeMs: maxAgeOption,
  // The receiver tells the formats apart by themselves: either value takes both.
  legacy: legacyOption(`${LEGACY_DESCRIPTION}; takes whole-image and JSON datagrams too`),
  ack: ackOption,
  ackMode: ackModeOption,
};

export const legacyUdpTransport: TransportKind<'udp-legacy', typeof sendOptions, typeof recvOptions> = {
  name: 'udp-legacy',
  sendOptions,
  recvOptions,
  pickedBy: ['udp', 'legacy'],
  check(given) {
    if (given('--rate')) throw new UsageError('--rate does not apply to --legacy, which waits for a reply after each frame');
    if (given('--recv-buffer')) throw new UsageError('--recv-buffer does not apply to --legacy');
  },
  listeningNote: 'UDP, legacy format',
  summaryWording: ' over UDP',
  ended: 'stream ended',
  noSecret: "--legacy speaks the reference programs' UDP format, which has no encryption",
  liveDepth: UDP_LIVE_DEPTH,
  async openSender(settings) {
    const format = settings.legacy ?? 'chunked';
    if (format === 'whole' && settings.packetSize !== undefined) {
      throw new UsageError('--packet-size does not apply to --legacy whole, which sends each image as one datagram');
    }
    let warned = false;
    const sender = await LegacyUdpSender.open({
      host: settings.host,
      port: settings.port,
      metadata: settings.metadata,
      label: settings.label,
      pieceSize: settings.packetSize,
      format,
      // One line for the first, the count in the summary: a folder of large photos is not a screenful.
      onTooLarge: (error) => {
        if (warned) return;
        warned = true;
        settings.warn(`${error.message}; skipped (later ones are counted in the summary)`);
      },
      onNoReplies: (error) => settings.warn(`${error.message}; sending the next images without waiting for replies`),
    });
    const skipped = () => sender.framesSkipped;
    return { sender, summaryNote: () => (skipped() > 0 ? `; ${skipped()} skipped (too large for one datagram)` : '') };
  },
  async openReceiver(settings) {
    const receiver = await LegacyUdpReceiver.listen({
      port: settings.port,
      host: settings.bind,
      maxFrameBytes: settings.maxFrameBytes,
      maxAgeMs: settings.maxAgeMs,
      // The reference client waits for a reply after every image, so auto always replies.
      reply: replyText(settings, true) ?? null,
      ackWhen: 'manual',
      ...splitBudget(settings.maxBufferedBytes),
    });
    return { receiver, notes: () => [] };
  },
};
