import { DisplayError } from '../errors.js';

/**
 * The part of @kmamal/sdl that vstream uses, typed here rather than imported: the binding is
 * an optional dependency, and the build must type-check on machines where it is absent.
 */
export interface SdlWindow {
  readonly id: number;
  readonly title: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly pixelWidth: number;
  readonly pixelHeight: number;
  readonly destroyed: boolean;
  setTitle(title: string): void;
  setSize(width: number, height: number): void;
  /** Stretched to the whole window, or to `dstRect` over black. */
  render(
    width: number,
    height: number,
    stride: number,
    format: 'rgb24',
    buffer: Buffer,
    options?: { scaling?: 'nearest' | 'linear' | 'best'; dstRect?: { x: number; y: number; width: number; height: number } },
  ): void;
  destroy(): void;
  /** Before a close the user asked for (window manager, app quit); `prevent()` keeps it open. */
  on(event: 'beforeClose', listener: (event: { prevent(): void }) => void): this;
  /** After the window is gone, whoever closed it: the user, `destroy()` or an app quit. */
  on(event: 'close', listener: () => void): this;
  on(event: 'resize', listener: (event: { pixelWidth: number; pixelHeight: number }) => void): this;
  /** Part of the window became visible again and may have lost its contents. */
  on(event: 'expose', listener: () => void): this;
  on(event: 'keyDown', listener: (event: { key: string | null; scancode: number }) => void): this;
  on(event: string, listener: (...args: any[]) => void): this;
}

export interface SdlDisplay {
  name: string;
  geometry: { x: number; y: number; width: number; height: number };
  /** The geometry minus task bars and docks. */
  usable: { x: number; y: number; width: number; height: number };
}

export interface Sdl {
  info: { version: unknown; platform: string; drivers: { video: { all: string[]; current: string | null } } };
  video: {
    displays: SdlDisplay[];
    windows: SdlWindow[];
    createWindow(options?: {
      title?: string;
      width?: number;
      height?: number;
      resizable?: boolean;
      visible?: boolean;
      vsync?: boolean;
    }): SdlWindow;
  };
}

const MODULE_NAME = '@kmamal/sdl';
let cached: Promise<Sdl> | undefined;

/**
 * Loads the SDL binding on first use only: it is an optional native module, so `send`, the
 * headless sinks and `--help` must work on machines where it was never built.
 */
export function loadSdl(): Promise<Sdl> {
  cached ??= import(MODULE_NAME).then(
    (mod: { default: Sdl }) => mod.default,
    (cause: unknown) => {
      cached = undefined;
      throw new DisplayError(
        'SDL window support is not installed (install libsdl2-dev, then run `npm run build:sdl`); use --no-window with --output, --save-dir or --json',
        'ERR_NO_SDL',
        { cause },
      );
    },
  );
  return cached;
}
