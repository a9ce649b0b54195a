/** POST /jobs with `video_path`: a video job's spec from the JSON body, checked before it is queued. */
import { ClassifierError } from '../errors.ts';
import type { JobSpec } from '../queue/types.ts';
import { type JobsBody, type OptionValues, VIDEO_OPTION_FIELDS } from './schemas.ts';

function isJsonBody(body: unknown): body is JobsBody {
  return typeof body === 'object' && body !== null && !Buffer.isBuffer(body);
}

/** The video job the body asks for, or null when it names no video (then it is an image job). */
export function videoSpecOf(body: unknown, query: OptionValues, allowPaths: boolean): JobSpec | null {
  if (!isJsonBody(body)) return null;
  const given = VIDEO_OPTION_FIELDS.filter((field) => body[field] !== undefined);
  if (body.video_path === undefined) {
    if (given.length > 0)
      throw new ClassifierError('invalid_request', `${given.join(', ')} only apply to a video job (video_path).`);
    return null;
  }
  if (body.image_url !== undefined || body.image_base64 !== undefined || body.image_path !== undefined || body.images)
    throw new ClassifierError('ambiguous_image', 'A job names either images or one video (video_path), not both.');
  if (!allowPaths)
    throw new ClassifierError(
      'files_not_allowed',
      'Local file paths are not accepted here (the service has no IMAGE_ROOT); video_path needs one.',
    );
  const sampling = body.keyframes
    ? ({ keyframes: true } as const)
    : { every: body.fps !== undefined ? 1 / body.fps : (body.every ?? 1) };
  return {
    kind: 'video',
    images: [],
    options: {
      topK: body.top_k ?? query.top_k,
      minScore: body.min_score ?? query.min_score,
      marineOnly: body.marine_only ?? query.marine_only,
    },
    video: {
      source: { kind: 'path', path: body.video_path },
      sampling,
      minFrames: body.min_frames,
      gap: body.gap,
      smooth: body.smooth,
    },
  };
}
