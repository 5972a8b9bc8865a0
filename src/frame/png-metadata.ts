/**
 * Where vstream's metadata goes in a PNG: the same bytes as the JPEG segment's payload
 * (`VSTREAM\0`, version, JSON; metadata.ts makes and reads them) in a private ancillary chunk
 * right after IHDR. PNG decoders skip ancillary chunks they do not know, so a reference peer
 * decodes the frame unchanged; a vstream receiver removes the chunk again, giving back the PNG
 * the sender read. Layout in docs/PROTOCOL.md ("PNG frames").
 */
import { ProtocolError } from '../errors.js';
import { hasValidCrc, isPng, makeChunk, pngChunks, type PngChunk } from './png-chunks.js';

/**
 * Lower-case first letter: ancillary (decoders may ignore it); lower-case second: private;
 * upper-case third: as the PNG version in use requires; lower-case fourth: safe to copy,
 * since it says nothing about the pixels.
 */
export const PNG_METADATA_CHUNK = 'vsTm';

/** The complete chunk holding `payload`. */
export function pngMetadataChunk(payload: Buffer): Buffer {
  return makeChunk(PNG_METADATA_CHUNK, payload);
}

/** Where the chunk goes: right after IHDR, which the PNG standard requires to come first. */
export function pngMetadataInsertOffset(png: Buffer): number {
  const first = pngChunks(png).next();
  if (first.done || first.value.type !== 'IHDR') {
    throw new ProtocolError('frame is a PNG without an IHDR chunk first: no place for metadata', 'ERR_NOT_JPEG');
  }
  return first.value.end;
}

/**
 * The first vstream chunk before IDAT whose data starts with `identifier`, and its data after
 * the identifier; undefined when there is none. One with a wrong CRC is damaged: not read.
 */
export function findPngMetadata(png: Buffer, identifier: Buffer): { chunk: PngChunk; body: Buffer } | undefined {
  if (!isPng(png)) return undefined;
  for (const chunk of pngChunks(png)) {
    if (chunk.type !== PNG_METADATA_CHUNK || chunk.dataEnd - chunk.dataStart <= identifier.length) continue;
    if (png.compare(identifier, 0, identifier.length, chunk.dataStart, chunk.dataStart + identifier.length) !== 0) continue;
    if (!hasValidCrc(png, chunk)) continue;
    return { chunk, body: png.subarray(chunk.dataStart + identifier.length, chunk.dataEnd) };
  }
  return undefined;
}
