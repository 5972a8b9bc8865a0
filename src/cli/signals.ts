/**
 * Runs `work` until it finishes or SIGINT/SIGTERM arrives. On a signal, `stop` is called so that
 * `work` can wind down (flush sinks, close sockets) instead of the process dying mid-write.
 * Resolves true when a signal ended the work. A second signal exits at once.
 */
export async function runUntilSignal(
  work: (signal: AbortSignal) => Promise<void>,
  stop: () => unknown,
): Promise<boolean> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(128 + (name === 'SIGINT' ? 2 : 15));
    controller.abort();
    void stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await work(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return controller.signal.aborted;
}
