/**
 * The ffmpeg that makes `.mp4`, `.avi` and `--record-codec h264` recordings from vstream's own
 * live Matroska on its stdin. Pure, for tests.
 */
import type { Container } from './record-name.js';

export type RecordCodec = 'mjpeg' | 'h264';

const FORMAT: Record<Container, string> = { mkv: 'matroska', mp4: 'mp4', avi: 'avi' };

/** Seconds between H.264 keyframes: where a player can start, and an MP4 fragment ends. */
export const H264_KEYFRAME_SECONDS = 2;

export function recordFfmpegArgs(container: Container, codec: RecordCodec, path: string): string[] {
  const input = [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    // The input's header says all there is: waiting to analyse seconds of it would only hold
    // the first frames back from the file.
    '-analyzeduration',
    '0',
    '-f',
    'matroska',
    '-i',
    'pipe:0',
  ];
  const video =
    codec === 'h264'
      ? [
          '-c:v',
          'libx264',
          '-preset',
          'veryfast',
          // 4:2:0, which every player decodes (camera JPEGs are mostly 4:2:2), at even sizes as it needs.
          '-vf',
          'scale=trunc(iw/2)*2:trunc(ih/2)*2',
          '-pix_fmt',
          'yuv420p',
          '-force_key_frames',
          `expr:gte(t,n_forced*${H264_KEYFRAME_SECONDS})`,
          // A fragmented MP4 has no edit list to hide B-frames' delay: every frame would show two late.
          ...(container === 'mp4' ? ['-bf', '0'] : []),
        ]
      : // The demuxer's millisecond time base: else an AVI may get one from a frame rate guessed
        // from the first frames (ffmpeg 4.1 does), which moves every frame to that rate's grid.
        ['-c:v', 'copy', '-copytb', '1'];
  // Each frame keeps its own time: none repeated to fill a gap, none dropped, none moved to a
  // frame rate's grid (the encoder's time base is the input's milliseconds).
  const timing = ['-vsync', 'passthrough', ...(codec === 'h264' ? ['-enc_time_base', '-1'] : [])];
  return [...input, ...video, ...timing, ...muxerArgs(container, codec), '-f', FORMAT[container], '-y', `file:${path}`];
}

function muxerArgs(container: Container, codec: RecordCodec): string[] {
  if (container !== 'mp4') return [];
  // Fragmented: readable while written, and what is written stays readable if recv is killed.
  // A fragment a keyframe for H.264; for MJPEG, where every frame is one, a fragment a second.
  const fragments = codec === 'h264' ? ['-movflags', '+frag_keyframe+empty_moov+default_base_moof'] : ['-movflags', '+empty_moov+default_base_moof', '-frag_duration', '1000000'];
  return fragments;
}
