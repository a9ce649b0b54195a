/** "hh:mm:ss.mmm" for a time in seconds (rounded to the millisecond); hours grow past 99 if they must. */
export function timecodeOf(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Math.floor((ms % 60_000) / 1000);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}

/** Seconds from "hh:mm:ss.mmm" (or "mm:ss", "ss.s"); NaN when it is not a timecode. */
export function secondsOfTimecode(text: string): number {
  const parts = text.split(':');
  if (parts.length > 3 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p))) return Number.NaN;
  return parts.reduce((total, part) => total * 60 + Number(part), 0);
}
