/** Media times as Camtrap DP wants them: ISO 8601 in whole seconds with a UTC offset. */

export interface SurveyTime {
  timestamp: string;
  /** The time is a guess (no capture time in the photo, or no known UTC offset): flagged on the deployment. */
  issue: boolean;
}

const utcTime = (time: Date) => time.toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The capture time (camera-local, from EXIF) with the survey's UTC offset; without an offset it is
 * taken as UTC and flagged; without a capture time the file's modification time stands in, flagged.
 */
export function mediaTimestampOf(takenAt: string | null, modified: Date, utcOffset: string | null): SurveyTime {
  if (takenAt) return { timestamp: `${takenAt}${utcOffset ?? 'Z'}`, issue: utcOffset === null };
  return { timestamp: utcTime(modified), issue: true };
}

/**
 * A video's start: the container's creation_time, which MP4 and QuickTime define as UTC, so it is an
 * instant and not flagged; with --utc-offset it is written in that offset (the same instant, read
 * like the photos beside it). Without one, the file's modification time stands in, flagged, as for
 * a photo without a capture time.
 */
export function videoTimestampOf(creationTime: string | null, modified: Date, utcOffset: string | null): SurveyTime {
  const created = creationTime ? Date.parse(creationTime) : Number.NaN;
  if (Number.isNaN(created)) return { timestamp: utcTime(modified), issue: true };
  return { timestamp: timeAt(Math.floor(created / 1000) * 1000, utcOffset ?? 'Z'), issue: false };
}

/** 'Z' or '+10:00': how `timestamp` names its offset. */
function designatorOf(timestamp: string): string {
  return /(Z|[+-]\d{2}:\d{2})$/.exec(timestamp)?.[1] ?? 'Z';
}

/** The instant `ms` as the wall-clock time at `designator` ('Z' or '+10:00'), in whole seconds. */
function timeAt(ms: number, designator: string): string {
  const match = /^([+-])(\d{2}):(\d{2})$/.exec(designator);
  const minutes = match ? (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3])) : 0;
  return `${new Date(ms + minutes * 60_000).toISOString().slice(0, 19)}${designator}`;
}

/**
 * `timestamp` plus `seconds`, in the same offset, rounded to a whole second down (a start) or up
 * (an end), so an event written in whole seconds still covers the span it stands for.
 */
export function timestampPlus(timestamp: string, seconds: number, rounding: 'down' | 'up'): string {
  // To the millisecond first, so 2.002 s (2001.9999... ms) does not round up a whole second.
  const ms = Math.round(Date.parse(timestamp) + seconds * 1000);
  const whole = rounding === 'down' ? Math.floor(ms / 1000) : Math.ceil(ms / 1000);
  return timeAt(whole * 1000, designatorOf(timestamp));
}
