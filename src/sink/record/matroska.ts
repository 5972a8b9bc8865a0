/**
 * A Matroska (MKV) writer for a stream of JPEGs, stored as they are (codec V_MJPEG), each with
 * its own timestamp. Pure: it returns the bytes to append, and the few bytes to overwrite in
 * place once their value is known (patches), so a file can be read while it is written.
 *
 * The Segment and each Cluster start with an unknown size, which Matroska allows for live
 * files: a reader (ffmpeg, VLC, mpv) plays what is there so far. Where the output can seek,
 * the patches then give every finished Cluster and, at the end, the Segment their real size,
 * fill in the Duration and point a SeekHead at Cues (one per Cluster) appended last: a
 * complete, seekable file. Where it cannot (a pipe), the appended bytes alone are a valid
 * live file.
 */
import {
  UNKNOWN_SIZE,
  element,
  floatElement,
  idBytes,
  intElement,
  stringElement,
  uintBytes,
  uintElement,
  vint,
  vintOfLength,
  voidElement,
} from './ebml.js';

const ID = {
  EBML: 0x1a45dfa3,
  EBMLVersion: 0x4286,
  EBMLReadVersion: 0x42f7,
  EBMLMaxIDLength: 0x42f2,
  EBMLMaxSizeLength: 0x42f3,
  DocType: 0x4282,
  DocTypeVersion: 0x4287,
  DocTypeReadVersion: 0x4285,
  Segment: 0x18538067,
  SeekHead: 0x114d9b74,
  Seek: 0x4dbb,
  SeekID: 0x53ab,
  SeekPosition: 0x53ac,
  Info: 0x1549a966,
  TimestampScale: 0x2ad7b1,
  MuxingApp: 0x4d80,
  WritingApp: 0x5741,
  Title: 0x7ba9,
  DateUTC: 0x4461,
  Duration: 0x4489,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackUID: 0x73c5,
  TrackType: 0x83,
  FlagLacing: 0x9c,
  CodecID: 0x86,
  Video: 0xe0,
  PixelWidth: 0xb0,
  PixelHeight: 0xba,
  Cluster: 0x1f43b675,
  Timestamp: 0xe7,
  SimpleBlock: 0xa3,
  Cues: 0x1c53bb6b,
  CuePoint: 0xbb,
  CueTime: 0xb3,
  CueTrackPositions: 0xb7,
  CueTrack: 0xf7,
  CueClusterPosition: 0xf1,
} as const;

/** Timestamps are whole milliseconds: TimestampScale is in nanoseconds. */
export const TIMESTAMP_SCALE_NS = 1_000_000;
/**
 * A Cluster spans at most this long: short enough that a reader of a growing file gets each
 * second as it is written, and far within a block's 16-bit offset from its Cluster (32.7 s).
 */
export const CLUSTER_MS = 1000;
/** ...and at most about this many bytes, so a burst of large frames still gets Clusters. */
export const CLUSTER_BYTES = 8 * 1024 * 1024;
/** Cue points kept: past this, every other one goes, so a week-long file's index stays small. */
export const MAX_CUES = 65_536;
/** Room before Info for the SeekHead that points at the Cues once they exist. */
const SEEK_HEAD_ROOM = 64;
/** A Duration element: 2-byte ID, 1-byte size, 8-byte float. */
const DURATION_ROOM = 11;
const TRACK = 1;
/** Matroska dates count from 2001-01-01T00:00:00 UTC, in nanoseconds. */
const MATROSKA_EPOCH_MS = Date.UTC(2001, 0, 1);

export interface MatroskaVideo {
  width: number;
  height: number;
  /** Shown by players as the file's title. */
  title?: string;
  /** Wall-clock time of the first frame (ms since the Unix epoch), as the file's date. */
  startedAt?: number;
}

/** Bytes to overwrite at `offset` (from the start of the file) once the output can seek. */
export interface Patch {
  offset: number;
  bytes: Buffer;
}

/** What to write next: `append` at the end of the file, then (where possible) `patches` in place. */
export interface Chunk {
  append: Buffer[];
  patches: Patch[];
}

interface OpenCluster {
  /** Where its size is, from the start of the file. */
  sizeOffset: number;
  /** Where its data starts. */
  dataStart: number;
  time: number;
}

export class MatroskaWriter {
  private offset = 0;
  private segmentDataStart = 0;
  private durationOffset = 0;
  private seekHeadOffset = 0;
  private cluster: OpenCluster | undefined;
  private clusters = 0;
  private readonly cues: { time: number; position: number }[] = [];
  private cueEvery = 1;
  private lastTime: number | undefined;
  private lastInterval = 0;
  private started = false;
  private finished = false;

  constructor(private readonly video: MatroskaVideo) {}

  /** Bytes written so far. */
  get bytes(): number {
    return this.offset;
  }

  /** The EBML header, the Segment's start, Info and Tracks: the first bytes of the file. */
  header(): Chunk {
    if (this.started) throw new Error('the Matroska header is written once');
    this.started = true;
    const ebml = element(ID.EBML, [
      uintElement(ID.EBMLVersion, 1),
      uintElement(ID.EBMLReadVersion, 1),
      uintElement(ID.EBMLMaxIDLength, 4),
      uintElement(ID.EBMLMaxSizeLength, 8),
      stringElement(ID.DocType, 'matroska'),
      uintElement(ID.DocTypeVersion, 4),
      // SimpleBlock needs version 2 to read.
      uintElement(ID.DocTypeReadVersion, 2),
    ]);
    const segmentStart = Buffer.concat([idBytes(ID.Segment), UNKNOWN_SIZE]);
    this.segmentDataStart = ebml.length + segmentStart.length;
    this.seekHeadOffset = this.segmentDataStart;
    const seekRoom = voidElement(SEEK_HEAD_ROOM);

    const infoFields = [
      uintElement(ID.TimestampScale, TIMESTAMP_SCALE_NS),
      stringElement(ID.MuxingApp, 'vstream'),
      stringElement(ID.WritingApp, 'vstream'),
      ...(this.video.title !== undefined ? [stringElement(ID.Title, this.video.title)] : []),
      ...(this.video.startedAt !== undefined ? [intElement(ID.DateUTC, BigInt(Math.round(this.video.startedAt - MATROSKA_EPOCH_MS)) * 1_000_000n)] : []),
    ];
    const info = element(ID.Info, [...infoFields, voidElement(DURATION_ROOM)]);
    this.durationOffset = this.seekHeadOffset + seekRoom.length + info.length - DURATION_ROOM;

    const tracks = element(ID.Tracks, [
      element(ID.TrackEntry, [
        uintElement(ID.TrackNumber, TRACK),
        uintElement(ID.TrackUID, TRACK),
        uintElement(ID.TrackType, 1),
        uintElement(ID.FlagLacing, 0),
        stringElement(ID.CodecID, 'V_MJPEG'),
        element(ID.Video, [uintElement(ID.PixelWidth, this.video.width), uintElement(ID.PixelHeight, this.video.height)]),
      ]),
    ]);
    return this.appended([ebml, segmentStart, seekRoom, info, tracks], []);
  }

  /**
   * One frame, `time` milliseconds after the file's start (whole, and later than the last
   * frame's: the caller orders them), its bytes as `parts`.
   */
  frame(time: number, parts: readonly Buffer[]): Chunk {
    if (!this.started || this.finished) throw new Error('a Matroska frame goes between header() and finish()');
    if (!Number.isSafeInteger(time) || time < 0 || (this.lastTime !== undefined && time <= this.lastTime)) {
      throw new RangeError(`Matroska frame time ${time} is not after ${this.lastTime ?? -1}`);
    }
    if (this.lastTime !== undefined) this.lastInterval = time - this.lastTime;
    this.lastTime = time;
    const append: Buffer[] = [];
    const patches: Patch[] = [];
    const size = parts.reduce((sum, part) => sum + part.length, 0);
    const cluster = this.cluster;
    if (cluster === undefined || time - cluster.time >= CLUSTER_MS || this.offset - cluster.dataStart + size > CLUSTER_BYTES) {
      if (cluster) patches.push(this.clusterSize(cluster));
      append.push(...this.startCluster(time));
    }
    // Track number, 16-bit time from the Cluster's, flags (keyframe: every JPEG stands alone).
    const head = Buffer.alloc(4);
    head[0] = 0x80 | TRACK;
    head.writeInt16BE(time - this.cluster!.time, 1);
    head[3] = 0x80;
    append.push(idBytes(ID.SimpleBlock), vint(head.length + size), head, ...parts);
    return this.appended(append, patches);
  }

  /**
   * The end: Cues appended, and patches for the last Cluster's and the Segment's sizes, the
   * Duration and the SeekHead. Without the patches (a pipe) the file stays a live one.
   */
  finish(): Chunk {
    if (!this.started || this.finished) throw new Error('a Matroska file is finished once, after its header');
    this.finished = true;
    const patches: Patch[] = [];
    if (this.cluster) patches.push(this.clusterSize(this.cluster));
    const append: Buffer[] = [];
    if (this.cues.length > 0) {
      const cuesPosition = this.offset - this.segmentDataStart;
      append.push(element(ID.Cues, this.cues.map((cue) => cuePoint(cue.time, cue.position))));
      const seekHead = element(ID.SeekHead, [element(ID.Seek, [element(ID.SeekID, idBytes(ID.Cues)), element(ID.SeekPosition, uintBytes(cuesPosition, 8))])]);
      patches.push({ offset: this.seekHeadOffset, bytes: Buffer.concat([seekHead, voidElement(SEEK_HEAD_ROOM - seekHead.length)]) });
    }
    const end = this.offset + append.reduce((sum, part) => sum + part.length, 0);
    patches.push({ offset: this.segmentDataStart - 8, bytes: vintOfLength(end - this.segmentDataStart, 8) });
    if (this.lastTime !== undefined) {
      // The last frame lasts as long as the one before it.
      patches.push({ offset: this.durationOffset, bytes: floatElement(ID.Duration, this.lastTime + this.lastInterval) });
    }
    return this.appended(append, patches);
  }

  private startCluster(time: number): Buffer[] {
    const start = this.offset;
    this.cluster = { sizeOffset: start + 4, dataStart: start + 4 + UNKNOWN_SIZE.length, time };
    if (this.clusters++ % this.cueEvery === 0) this.addCue(time, start - this.segmentDataStart);
    return [idBytes(ID.Cluster), UNKNOWN_SIZE, uintElement(ID.Timestamp, time)];
  }

  private addCue(time: number, position: number): void {
    this.cues.push({ time, position });
    if (this.cues.length < MAX_CUES) return;
    // Keep every other one, and from now on index every other Cluster of those indexed.
    let kept = 0;
    for (let i = 0; i < this.cues.length; i += 2) this.cues[kept++] = this.cues[i]!;
    this.cues.length = kept;
    this.cueEvery *= 2;
  }

  /** The patch giving a finished Cluster its size. */
  private clusterSize(cluster: OpenCluster): Patch {
    return { offset: cluster.sizeOffset, bytes: vintOfLength(this.offset - cluster.dataStart, 8) };
  }

  private appended(append: Buffer[], patches: Patch[]): Chunk {
    for (const part of append) this.offset += part.length;
    return { append, patches };
  }
}

function cuePoint(time: number, position: number): Buffer {
  return element(ID.CuePoint, [
    uintElement(ID.CueTime, time),
    element(ID.CueTrackPositions, [uintElement(ID.CueTrack, TRACK), uintElement(ID.CueClusterPosition, position)]),
  ]);
}
