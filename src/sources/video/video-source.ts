/**
 * A video job's video as a local file ffmpeg may open, wherever the job runs (the in-process
 * queue or a Redis worker), and what to do with that file when the job ends.
 */
import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ClassifierError } from '../../errors.ts';
import { type LocalFilePolicy, resolveVideoFile } from '../file.ts';
import { sharedSourceOptions } from '../policy.ts';
import { UrlFetcher, type UrlFetchOptions } from '../url.ts';

/**
 * Where a video job's video is. The video is opened where the job runs (openVideoSource in
 * sources/video/video-source.ts): `path` inside IMAGE_ROOT; `url` downloaded through the URL policy
 * first (ffmpeg never opens a URL a user gave); `upload` a temporary file the HTTP layer wrote, owned
 * by the in-process queue from then on; `base64` an upload as it crosses Redis (at most MAX_VIDEO_BYTES).
 */
export type VideoSource =
  | { kind: 'path'; path: string }
  | { kind: 'url'; url: string }
  | { kind: 'upload'; file: string; label: string }
  | { kind: 'base64'; data: string; label: string };

export interface OpenedVideo {
  /** An absolute path of a regular file. */
  file: string;
  /** How messages and results name the video (the path given, the upload's file name, the URL). */
  label: string;
  /** Deletes the file when it is a temporary copy; safe to call more than once. */
  release(): Promise<void>;
}

/** How `url` sources are downloaded: the service's URL policy, with the video's own limits. */
export interface VideoUrlPolicy {
  /** Owned by the caller (closed with the queue or worker). */
  fetcher: UrlFetcher;
  /** URL_ALLOW_HOSTS and private networks as for image URLs; maxBytes is MAX_VIDEO_URL_BYTES. */
  options: Pick<UrlFetchOptions, 'allowedHosts' | 'allowPrivateNetworks' | 'maxBytes'>;
  /** Longest wait for the headers or the next bytes (URL_TIMEOUT_MS). */
  stallMs: number;
  /** Longest download as a whole (VIDEO_TIMEOUT_MS). */
  timeoutMs: number;
}

/**
 * `video_url` downloads, for the in-process queue and for workers alike: the image URL policy
 * (sources/policy.ts) with MAX_VIDEO_URL_BYTES, stalls bounded by URL_TIMEOUT_MS.
 */
export function videoUrlPolicyOf(settings: {
  maxVideoUrlBytes: number;
  urlTimeoutMs: number;
  urlAllowHosts: readonly string[];
  videoTimeoutMs: number;
}): VideoUrlPolicy {
  const shared = sharedSourceOptions({
    maxBodyBytes: settings.maxVideoUrlBytes,
    urlTimeoutMs: settings.urlTimeoutMs,
    urlAllowHosts: settings.urlAllowHosts,
  }).url;
  return {
    fetcher: new UrlFetcher(),
    options: {
      allowedHosts: shared?.allowedHosts ?? [],
      allowPrivateNetworks: shared?.allowPrivateNetworks ?? false,
      maxBytes: settings.maxVideoUrlBytes,
    },
    stallMs: settings.urlTimeoutMs,
    timeoutMs: settings.videoTimeoutMs,
  };
}

export interface VideoSourceContext {
  /** What `path` sources may name (IMAGE_ROOT). */
  files: LocalFilePolicy;
  /** Without it `url` sources are refused (video_unsupported). */
  urls?: VideoUrlPolicy;
  /** Stops a download (the job was cancelled, the service is closing). */
  signal?: AbortSignal;
}

/** A fresh path for a temporary video file; the caller writes it and owns it. */
export function temporaryVideoPath(): string {
  return path.join(tmpdir(), `marine-classifier-video-${randomUUID()}`);
}

function temporary(file: string, label: string): OpenedVideo {
  return { file, label, release: () => rm(file, { force: true }) };
}

export async function openVideoSource(source: VideoSource, context: VideoSourceContext): Promise<OpenedVideo> {
  switch (source.kind) {
    case 'path':
      return { file: await resolveVideoFile(source.path, context.files), label: source.path, release: async () => {} };
    case 'upload':
      return temporary(source.file, source.label);
    case 'base64': {
      const file = temporaryVideoPath();
      await writeFile(file, Buffer.from(source.data, 'base64'), { mode: 0o600 });
      return temporary(file, source.label);
    }
    case 'url': {
      const urls = context.urls;
      if (!urls) throw new ClassifierError('video_unsupported', 'Videos by URL are not supported here.');
      // ffmpeg never opens a URL a user gave: the bytes come through the guarded fetch into a local file.
      const file = temporaryVideoPath();
      await urls.fetcher.download(
        source.url,
        file,
        { ...urls.options, timeoutMs: urls.timeoutMs, stallMs: urls.stallMs },
        context.signal,
      );
      return temporary(file, source.url);
    }
  }
}
