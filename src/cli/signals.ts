import { ExitCode } from '../errors.js';

/**
 * After the first SIGINT/SIGTERM the command has this long to wind down on its own (flush
 * sinks, close sockets, print its summary). A reader that stopped reading or a peer that
 * stopped acknowledging can hold a clean shutdown forever; the user asked to stop now.
 */
export const SHUTDOWN_GRACE_MS = 1500;

export type StopSignal = 'SIGINT' | 'SIGTERM';

export interface SignalOptions {
  /** Called on the first signal so that `work` can wind down instead of dying mid-write. */
  stop: () => unknown;
  /**
   * Called once, just before the process exits on its own because the grace ran out or a
   * second signal came: prints the summary, with what was in flight counted as abandoned.
   */
  beforeForcedExit: (signal: StopSignal) => void;
  graceMs?: number;
}

/** The shell's exit code for a command a signal ended: 128 + its number. */
export function signalExitCode(signal: StopSignal): number {
  return signal === 'SIGINT' ? ExitCode.INTERRUPTED : ExitCode.TERMINATED;
}

/**
 * Runs `work` until it finishes or SIGINT/SIGTERM arrives. Resolves with the signal that ended
 * it, or undefined. Once a signal has come, the whole rest of the command (its clean-up too)
 * has `graceMs`: then, or at a second signal, `beforeForcedExit` runs and the process exits
 * with 130 (SIGINT) or 143 (SIGTERM), whatever its peers or readers are doing.
 */
export async function runUntilSignal(work: (signal: AbortSignal) => Promise<void>, options: SignalOptions): Promise<StopSignal | undefined> {
  const controller = new AbortController();
  let received: StopSignal | undefined;
  const forceExit = (signal: StopSignal) => {
    try {
      options.beforeForcedExit(signal);
    } finally {
      process.exit(signalExitCode(signal));
    }
  };
  const onSignal = (name: NodeJS.Signals) => {
    const signal: StopSignal = name === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
    if (received) {
      forceExit(received);
      return;
    }
    received = signal;
    controller.abort();
    // Unref'd: a shutdown that finishes in time exits as usual; one stuck on a live handle
    // (a pipe nobody reads) keeps the loop alive, so this fires.
    setTimeout(() => forceExit(signal), options.graceMs ?? SHUTDOWN_GRACE_MS).unref();
    void options.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await work(controller.signal);
  } finally {
    // After a signal the handlers stay: a second one during clean-up still exits at once.
    if (!received) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
  return received;
}

/**
 * Resolves true when `work` settles first, false when `signal` aborts first (`work`'s later
 * rejection is then ignored). Its abort listener goes with it: a reaction left on a promise
 * that never settles would keep the caller's frame alive, one per call.
 */
export function finishedBeforeAbort(work: Promise<unknown>, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.resolve(false);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      work.catch(() => {});
      resolve(false);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
