/**
 * POST /jobs for a video: its spec from the JSON body (`video_path`, `video_url`) or from an
 * uploaded file (a raw body or a form's file, already on disk), checked before it is queued.
 */
import { ClassifierError } from '../errors.ts';
import type { JobSpec, VideoSource } from '../queue/types.ts';
import { optionsOf, urlImage } from './image-request.ts';
import { type JobsBody, type OptionValues, VIDEO_OPTION_FIELDS, type VideoOptionValues } from './schemas.ts';

/** A video the HTTP layer wrote to a temporary file (the request body, or a form's file). */
export interface UploadedVideo {
  kind: 'video-upload';
  file: string;
  label: string;
}

export function isUploadedVideo(body: unknown): body is UploadedVideo {
  return typeof body === 'object' && body !== null && (body as Partial<UploadedVideo>).kind === 'video-upload';
}

function isJsonBody(body: unknown): body is JobsBody {
  return typeof body === 'object' && body !== null && !Buffer.isBuffer(body) && !isUploadedVideo(body);
}

/** The video options given (field names), for refusing them on an image job. */
function videoOptionsGiven(values: VideoOptionValues): string[] {
  return VIDEO_OPTION_FIELDS.filter((field) => values[field] !== undefined);
}

/** Refuses video options on a request that is no video job. */
export function refuseVideoOptions(values: VideoOptionValues): void {
  const given = videoOptionsGiven(values);
  if (given.length > 0)
    throw new ClassifierError(
      'invalid_request',
      `${given.join(', ')} only apply to a video job (video_path, video_url or an uploaded video).`,
    );
}

/** A video job for `source`: options from `fields` over the query's. */
export function videoJobOf(
  source: VideoSource,
  fields: VideoOptionValues & OptionValues,
  query: VideoOptionValues & OptionValues,
): JobSpec {
  const pick = <K extends keyof (VideoOptionValues & OptionValues)>(key: K) => fields[key] ?? query[key];
  const fps = pick('fps');
  const sampling = pick('keyframes')
    ? ({ keyframes: true } as const)
    : { every: fps !== undefined ? 1 / fps : (pick('every') ?? 1) };
  return {
    kind: 'video',
    images: [],
    options: optionsOf(fields, optionsOf(query)),
    video: { source, sampling, minFrames: pick('min_frames'), gap: pick('gap'), smooth: pick('smooth') },
  };
}

/** The video job the JSON body asks for, or null when it names no video (then it is an image job). */
export function videoSpecOf(
  body: unknown,
  query: VideoOptionValues & OptionValues,
  allowPaths: boolean,
): JobSpec | null {
  if (!isJsonBody(body)) return null;
  if (body.video_path === undefined && body.video_url === undefined) {
    refuseVideoOptions({ ...query, ...body });
    return null;
  }
  if (
    body.image_url !== undefined ||
    body.image_base64 !== undefined ||
    body.image_path !== undefined ||
    body.images ||
    (body.video_path !== undefined && body.video_url !== undefined)
  )
    throw new ClassifierError(
      'ambiguous_image',
      'A job names either images or one video (video_path or video_url), not both.',
    );
  if (body.video_url !== undefined) {
    const checked = urlImage(body.video_url, 'video_url');
    return videoJobOf({ kind: 'url', url: checked.kind === 'url' ? checked.url : body.video_url }, body, query);
  }
  if (!allowPaths)
    throw new ClassifierError(
      'files_not_allowed',
      'Local file paths are not accepted here (the service has no IMAGE_ROOT); video_path needs one.',
    );
  return videoJobOf({ kind: 'path', path: body.video_path as string }, body, query);
}
