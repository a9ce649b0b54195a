/** One frame of a video as a JPEG (the best frame of a class, for --thumbnails), decoded by ffmpeg like the others. */
import sharp from 'sharp';
import { ClassifierError } from '../../errors.ts';
import { type LocalFilePolicy, resolveVideoFile } from '../../sources/file.ts';
import { findFfmpeg } from '../../sources/video/ffmpeg-path.ts';
import { extractFrames } from '../../sources/video/frames.ts';
import { DEFAULT_VIDEO_LIMITS, type VideoLimits } from './classify-video.ts';

export async function frameJpeg(
  source: string,
  seconds: number,
  limits: Partial<VideoLimits> & { maxPixels: number },
  files: LocalFilePolicy = { allowFiles: true, root: null },
): Promise<Buffer> {
  const all = { ...DEFAULT_VIDEO_LIMITS, ...limits };
  const file = `file:${await resolveVideoFile(source, files)}`;
  const frames = extractFrames(findFfmpeg(all.ffmpegPath), file, {
    // Seeking lands on the frame shown at `seconds`; the first one after it is the one wanted.
    sampling: { every: 1e9 },
    start: seconds,
    limit: 1,
    maxFrames: 1,
    maxPixels: limits.maxPixels,
    stallMs: all.videoStallMs,
    timeoutMs: all.videoTimeoutMs,
    source,
    duration: null,
  });
  for await (const frame of frames) {
    return sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
      .jpeg({ quality: 85 })
      .toBuffer();
  }
  throw new ClassifierError('video_no_frames', `${source} has no frame at ${seconds} s.`);
}
