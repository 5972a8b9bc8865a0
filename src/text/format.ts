/** `12.3 MB, 29.9 frames/s` */
export function formatRate(bytes: number, frames: number, seconds: number): string {
  const fps = seconds > 0 ? frames / seconds : 0;
  return `${formatBytes(bytes)} in ${seconds.toFixed(1)} s, ${fps.toFixed(1)} frames/s`;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}
