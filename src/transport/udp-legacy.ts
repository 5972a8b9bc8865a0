/**
 * `--udp --legacy`: the reference programs' format (a length datagram, 1024-byte pieces, a
 * reply per frame). Its sender always waits for the reply, as the reference client does.
 */
import { UsageError } from '../errors.js';
import { flag } from '../options/schema.js';
import { ackModeOption, ackOption, replyText } from './ack-option.js';
import type { TransportKind } from './kind.js';
import { maxAgeOption, packetSizeOption, splitBudget, udpRecvFlag, udpSendFlag } from './udp.js';
import { LegacyUdpReceiver } from './udp-legacy-receiver.js';
import { LegacyUdpSender } from './udp-legacy-sender.js';
import { DEFAULT_MAX_QUEUED_FRAMES as UDP_LIVE_DEPTH } from './receiver-core.js';

const LEGACY_DESCRIPTION = "with --udp: the reference programs' format (length datagram, 1024-byte pieces, a reply per frame)";

const sendOptions = {
  udp: udpSendFlag,
  packetSize: packetSizeOption,
  legacy: flag('--legacy', LEGACY_DESCRIPTION, { needs: '--udp' }),
};

const recvOptions = {
  udp: udpRecvFlag,
  maxAgeMs: maxAgeOption,
  legacy: flag('--legacy', LEGACY_DESCRIPTION, { needs: '--udp' }),
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
  liveDepth: UDP_LIVE_DEPTH,
  async openSender(settings) {
    const sender = await LegacyUdpSender.open({
      host: settings.host,
      port: settings.port,
      metadata: settings.metadata,
      label: settings.label,
      pieceSize: settings.packetSize,
    });
    return { sender, summaryNote: () => '' };
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
