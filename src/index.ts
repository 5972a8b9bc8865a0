/**
 * vstream's library API: the CLI is built on exactly these pieces.
 *
 * ```ts
 * import { TcpFrameSender, TcpFrameReceiver } from 'vstream';
 *
 * const sender = await TcpFrameSender.connect({ host: '::1', port: 8088, label: 'cam1' });
 * await sender.send(jpeg);          // resolves when the socket can take the next frame
 * await sender.send(makeFrame(jpeg, { name: 'a.jpg', captureTime })); // a name and capture time travel with a Frame
 * await sender.close();
 *
 * const receiver = await TcpFrameReceiver.listen({ port: 8088 });
 * for await (const frame of receiver) console.log(frame.sender, frame.seq, frame.data.length);
 * ```
 *
 * Over UDP the same with `UdpFrameSender.open(...)` and `UdpFrameReceiver.listen(...)`; frames
 * then carry `loss` counters.
 */
export { TcpFrameSender, type TcpFrameSenderOptions } from './transport/tcp-sender.js';
export { TcpFrameReceiver, type TcpFrameReceiverOptions } from './transport/tcp-receiver.js';
export { UdpFrameSender, type UdpFrameSenderOptions } from './transport/udp-sender.js';
export { UdpFrameReceiver, type UdpFrameReceiverOptions } from './transport/udp-receiver.js';
export { LegacyUdpSender, type LegacyFormat, type LegacyUdpSenderOptions } from './transport/udp-legacy-sender.js';
export { LegacyUdpReceiver, type LegacyUdpReceiverOptions } from './transport/udp-legacy-receiver.js';
export type { PeerInfo, Receiver, Sender, SendOptions } from './transport/types.js';
export { parseHostPort, formatAddress, type HostPort } from './transport/address.js';
export { openSource, type SourceOptions } from './source/index.js';
export type { FrameSource } from './source/types.js';
export type { Frame, FrameMeta, ImageType, LossCounters, ReceivedFrame, Size } from './frame/frame.js';
export type { ReceivedMessage } from './frame/message.js';
export { imageInfo, makeFrame } from './frame/image-info.js';
export { frame } from './frame/framer.js';
export { encodeHeader, parseHeader, HEADER_SIZE } from './frame/header.js';
export { readMetadata, withoutMetadata } from './frame/metadata.js';
export { TcpFrameParser, TcpFrameWritable, DEFAULT_MAX_FRAME_BYTES } from './reassemble/tcp-parser.js';
export { jpegDimensions } from './frame/image-info.js';
export { locateFfmpeg, type FfmpegLocation } from './source/ffmpeg/locate.js';
export * from './errors.js';
