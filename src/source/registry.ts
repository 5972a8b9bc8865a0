/** Every kind of source `send` offers and the library opens; a new kind is one line here. */
import { cameraSource } from './camera.js';
import { dirSource } from './dir.js';
import { fileSource } from './file.js';
import { patternSource } from './pattern.js';
import { stdinSource } from './stdin.js';
import { screenSource } from './screen.js';
import { urlSource } from './url.js';
import { mergeSchemas, type OptionSchema, type UnionToIntersection } from '../options/schema.js';
import type { CommonSourceOptions, SourceKind } from './types.js';

export const SOURCES = [cameraSource, screenSource, urlSource, fileSource, dirSource, stdinSource, patternSource] as const;

/** What `send` uses when no source is chosen. */
export const DEFAULT_SOURCE = patternSource;

/** Any one source kind, its option types erased: how the registry hands kinds out. */
export type AnySourceKind = SourceKind<string, any, any>;

type ChoiceOf<T> = T extends SourceKind<infer K, infer P, any> ? { kind: K } & P : never;

/** One source and its own options: `{ kind: 'file', path, loop }`. */
export type SourceChoice = ChoiceOf<(typeof SOURCES)[number]>;
export type SourceName = SourceChoice['kind'];

/** What `openSource` takes: the common options and one source's own. */
export type SourceOptions = CommonSourceOptions & SourceChoice;

export function sourceKind(name: string): AnySourceKind | undefined {
  return (SOURCES as readonly AnySourceKind[]).find((kind) => kind.kind === name);
}

/** Every source's `send` options: the switches that pick one first, then the options they add. */
export const sourceSendOptions = mergeSchemas(
  ...(SOURCES as readonly AnySourceKind[]).map((kind) => ({ [kind.selector]: kind.options[kind.selector] }) as OptionSchema),
  ...(SOURCES as readonly AnySourceKind[]).map((kind) => Object.fromEntries(Object.entries(kind.options as OptionSchema).filter(([key]) => key !== kind.selector))),
) as UnionToIntersection<(typeof SOURCES)[number]['options']>;
