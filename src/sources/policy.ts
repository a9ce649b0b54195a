/**
 * The image-source policy: which files and URLs the engine may read, and how large and slow they
 * may be. `serve` and `worker` apply the same one (the worker is where the API's jobs are actually
 * fetched and read, so a looser worker would undo the API's policy); `classify` trusts its user.
 */
import type { SourceOptions } from './input.ts';

/** The settings the policy is made of (MAX_BODY_BYTES, URL_TIMEOUT_MS, URL_ALLOW_HOSTS, IMAGE_ROOT). */
export interface SourcePolicySettings {
  maxBodyBytes: number;
  urlTimeoutMs: number;
  urlAllowHosts: readonly string[];
  /** Folder local paths are confined to; null or undefined refuses local paths. */
  imageRoot?: string | null;
}

/** `serve` and `worker`: images named by other people. Local paths only under IMAGE_ROOT; URLs only to public addresses unless allow-listed. */
export function sharedSourceOptions(settings: SourcePolicySettings): SourceOptions {
  const imageRoot = settings.imageRoot ?? null;
  return {
    maxBytes: settings.maxBodyBytes,
    allowFiles: imageRoot !== null,
    imageRoot,
    url: {
      allowedHosts: [...settings.urlAllowHosts],
      allowPrivateNetworks: false,
      timeoutMs: settings.urlTimeoutMs,
      maxBytes: settings.maxBodyBytes,
    },
  };
}

/** `classify`: the user types the paths and URLs themselves, so any file and their own network are fine. */
export function localSourceOptions(settings: Omit<SourcePolicySettings, 'urlAllowHosts' | 'imageRoot'>): SourceOptions {
  return {
    maxBytes: settings.maxBodyBytes,
    allowFiles: true,
    imageRoot: null,
    url: { allowPrivateNetworks: true, timeoutMs: settings.urlTimeoutMs, maxBytes: settings.maxBodyBytes },
  };
}
