/** Where ffmpeg and ffprobe are: FFMPEG_PATH (ffprobe beside it), else the first on PATH. */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { ClassifierError } from '../../errors.ts';
import { environment } from '../../settings/load.ts';

export interface FfmpegTools {
  ffmpeg: string;
  ffprobe: string;
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string, searchPath: string): string | null {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return null;
}

export function ffmpegMissing(detail: string): ClassifierError {
  return new ClassifierError(
    'video_unsupported',
    `Videos need ffmpeg, and ${detail}. Install it (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg) ` +
      'or set FFMPEG_PATH to the ffmpeg program (ffprobe must be beside it). Images work without it.',
  );
}

/**
 * Finds the tools, or throws video_unsupported saying how to get them. `searchPath` is the PATH
 * to search (the process's own by default); it is read here, once per video, so installing
 * ffmpeg takes effect without a restart.
 */
export function findFfmpeg(ffmpegPath?: string | null, searchPath = environment().PATH ?? ''): FfmpegTools {
  if (ffmpegPath) {
    const ffmpeg = path.resolve(ffmpegPath);
    if (!isExecutable(ffmpeg)) throw ffmpegMissing(`FFMPEG_PATH=${ffmpegPath} is not an executable program`);
    const ffprobe = path.join(path.dirname(ffmpeg), path.basename(ffmpeg).replace(/ffmpeg/, 'ffprobe'));
    if (ffprobe === ffmpeg || !isExecutable(ffprobe))
      throw ffmpegMissing(`there is no ffprobe beside FFMPEG_PATH=${ffmpegPath}`);
    return { ffmpeg, ffprobe };
  }
  const ffmpeg = onPath('ffmpeg', searchPath);
  const ffprobe = onPath('ffprobe', searchPath);
  if (!ffmpeg || !ffprobe) throw ffmpegMissing(`${ffmpeg ? 'ffprobe' : 'ffmpeg'} is not on PATH`);
  return { ffmpeg, ffprobe };
}
