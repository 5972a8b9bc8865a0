/** Every sink `recv` offers; a new kind is one line here. */
import { mergeSchemas, type UnionToIntersection } from '../options/schema.js';
import { jsonSinkKind } from './json-lines.js';
import type { SinkKind } from './kind.js';
import { outputSinkKind } from './mjpeg-output.js';
import { saveDirSinkKind } from './save-dir.js';
import { httpSinkKind } from './http/http-sink.js';
import { recordSinkKind } from './record/record-kind.js';
import { windowSinkKind } from './window/window-sink.js';

/**
 * Sinks every frame is handed to, side by side, opened in this order. The window comes last:
 * without a display it is left out when another sink takes the frames.
 */
export const SINKS = [outputSinkKind, saveDirSinkKind, recordSinkKind, jsonSinkKind, httpSinkKind, windowSinkKind] as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySinkKind = SinkKind<any>;

/** Every sink's `recv` options; `--help` lists the window's first, as the default sink. */
export const sinkOptions = mergeSchemas(...[...SINKS].sort((a, b) => Number(b === windowSinkKind) - Number(a === windowSinkKind)).map((kind) => kind.options)) as UnionToIntersection<
  (typeof SINKS)[number]['options']
>;
