import { formatBytes } from '../text/format.js';
import { wireText } from '../text/wire-text.js';
import type { LossCounters } from '../frame/frame.js';
import { nowMs, type StreamStats } from './stream-stats.js';

export interface SenderStats {
  sender: string;
  stats: StreamStats;
  connected: boolean;
}

/**
 * `cam1: 30 fps, 1.4 MB/s, latency p50 3.2 ms p99 6.0 ms, 0 dropped, 300 frames`, and for a UDP
 * stream `; UDP loss: 2 frames dropped, 31 datagrams lost`.
 */
export function statsLine(entry: SenderStats, bytesPerSecond: number): string {
  const { stats } = entry;
  const latency = stats.takeLatency();
  const latencyText = latency ? `, latency p50 ${latency.p50.toFixed(1)} ms p99 ${latency.p99.toFixed(1)} ms` : '';
  const udp = stats.loss ? `; ${lossText(stats.loss)}` : '';
  return `${wireText(entry.sender)}: ${stats.fps()} fps, ${formatBytes(bytesPerSecond)}/s${latencyText}, ${stats.dropped} dropped, ${stats.frames} frames${udp}`;
}

/** `UDP loss: 2 frames dropped, 31 datagrams lost`, as in stats lines and the exit summary. */
export function lossText(loss: LossCounters): string {
  return `UDP loss: ${loss.framesDropped} frames dropped, ${loss.datagramsLost} datagrams lost`;
}

/** Prints one line per connected sender every second (`recv --stats`). */
export function startStatsReport(entries: () => Iterable<SenderStats>, out: NodeJS.WritableStream = process.stderr): () => void {
  const lastBytes = new Map<StreamStats, number>();
  let last = nowMs();
  const timer = setInterval(() => {
    const now = nowMs();
    const seconds = (now - last) / 1000;
    last = now;
    for (const entry of entries()) {
      if (!entry.connected) continue;
      const rate = (entry.stats.bytes - (lastBytes.get(entry.stats) ?? 0)) / seconds;
      lastBytes.set(entry.stats, entry.stats.bytes);
      out.write(`vstream: ${statsLine(entry, rate)}\n`);
    }
  }, 1000);
  // The report must never be what keeps the process alive.
  timer.unref();
  return () => clearInterval(timer);
}
