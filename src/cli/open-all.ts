/**
 * Opening every registered kind a run asks for (sinks, send taps) in order: a kind that is not
 * asked for opens nothing, and one that fails closes those already open, so that a run that
 * cannot start leaves no port bound and no file half-written.
 */
export async function openAll<K, T extends { close(): Promise<void> }>(kinds: readonly K[], open: (kind: K, opened: readonly T[]) => Promise<T | undefined>): Promise<T[]> {
  const opened: T[] = [];
  try {
    for (const kind of kinds) {
      const one = await open(kind, opened);
      if (one) opened.push(one);
    }
  } catch (err) {
    await Promise.all(opened.map((one) => one.close()));
    throw err;
  }
  return opened;
}
