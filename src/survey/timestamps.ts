/** Media times as Camtrap DP wants them: ISO 8601 with a UTC offset. */

export interface SurveyTime {
  timestamp: string;
  /** The time is a guess (no capture time in the photo, or no known UTC offset): flagged on the deployment. */
  issue: boolean;
}

/**
 * The capture time (camera-local, from EXIF) with the survey's UTC offset; without an offset it is
 * taken as UTC and flagged; without a capture time the file's modification time stands in, flagged.
 */
export function mediaTimestampOf(takenAt: string | null, modified: Date, utcOffset: string | null): SurveyTime {
  if (takenAt) return { timestamp: `${takenAt}${utcOffset ?? 'Z'}`, issue: utcOffset === null };
  return { timestamp: modified.toISOString().replace(/\.\d{3}Z$/, 'Z'), issue: true };
}
