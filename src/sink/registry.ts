/** Every sink `recv` offers; a new kind is one line here. */
import { mergeSchemas } from '../options/schema.js';
import { jsonSinkKind } from './json-lines.js';
import type { SinkKind } from './kind.js';
import { outputSinkKind } from './mjpeg-output.js';
import { saveDirSinkKind } from './save-dir.js';
import { windowSinkKind } from './window-sink-kind.js';

/** Sinks every frame is written to, in this order. */
export const SINKS = [outputSinkKind, saveDirSinkKind, jsonSinkKind] as const;

/** The window shows frames rather than taking them: it opens last, and only where it can show them. */
export const WINDOW = windowSinkKind;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySinkKind = SinkKind<any>;

/** Every sink's `recv` options, the window's first. */
export const sinkOptions = mergeSchemas(WINDOW.options, outputSinkKind.options, saveDirSinkKind.options, jsonSinkKind.options);
