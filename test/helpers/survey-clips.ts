/**
 * Clips for the survey export tests whose content is known second by second: a slideshow of the
 * shared cat and shark photos (cat 0-2 s, shark 2-5 s, cat 5-6 s, 10 fps), with a creation_time or,
 * stripped of all metadata, without one.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { sharedPath } from './shared.ts';

function ffmpeg(args: string[]): void {
  execFileSync('/usr/bin/ffmpeg', ['-v', 'error', '-y', ...args]);
}

/** The slideshow at `file`; `creationTime` (ISO, UTC) goes in the container, null: no metadata at all. */
export async function slideshowClip(file: string, creationTime: string | null): Promise<string> {
  // Small stills first, so the slideshow encodes in a moment; elsewhere, so no survey folder finds them.
  const dir = mkdtempSync(path.join(tmpdir(), 'mc-clip-'));
  const still = async (from: string, name: string) => {
    const out = path.join(dir, name);
    await sharp(from).resize(480, 320, { fit: 'cover' }).jpeg({ quality: 92 }).toFile(out);
    return out;
  };
  const cat = await still(sharedPath('images', 'photos', 'test_image_cat.jpg'), 'cat.jpg');
  const shark = await still(sharedPath('images', 'photos', 'test_image_shark.jpg'), 'shark.jpg');
  ffmpeg([
    ...['-loop', '1', '-framerate', '10', '-t', '2', '-i', cat],
    ...['-loop', '1', '-framerate', '10', '-t', '3', '-i', shark],
    ...['-loop', '1', '-framerate', '10', '-t', '1', '-i', cat],
    '-filter_complex',
    '[0][1][2]concat=n=3:v=1,format=yuv420p',
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10'],
    ...(creationTime
      ? ['-metadata', `creation_time=${creationTime}`]
      : ['-map_metadata', '-1', '-fflags', '+bitexact']),
    file,
  ]);
  return file;
}
