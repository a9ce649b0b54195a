// The picture of one frame of a dropped video, drawn from a <video> element seeked to the frame's
// time into a canvas: the page has the file, so no frame travels back from the service. A browser
// that cannot play the video's codec (Chromium without HEVC, say) gets `false`, and the page shows
// the timecode alone.

const LOAD_TIMEOUT_MS = 8000;

export class FramePainter {
  /** @type {HTMLVideoElement} */
  #video;
  /** @type {Promise<boolean>} */
  #ready;
  /** @type {Promise<unknown>} one seek at a time: a second click waits for the first */
  #busy = Promise.resolve();

  /** @param {string} objectUrl the dropped file's blob: URL */
  constructor(objectUrl) {
    const video = document.createElement('video');
    video.muted = true;
    video.preload = 'auto';
    video.playsInline = true;
    video.src = objectUrl;
    this.#video = video;
    this.#ready = new Promise((resolve) => {
      if (video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA) return resolve(true);
      const timer = setTimeout(() => resolve(false), LOAD_TIMEOUT_MS);
      video.addEventListener(
        'loadeddata',
        () => {
          clearTimeout(timer);
          resolve(video.videoWidth > 0);
        },
        { once: true },
      );
      video.addEventListener(
        'error',
        () => {
          clearTimeout(timer);
          resolve(false);
        },
        { once: true },
      );
    });
  }

  /**
   * Draws the frame shown at `seconds` into the canvas (sized to the video); false when the browser cannot.
   * @param {HTMLCanvasElement} canvas
   * @param {number} seconds the frame's presentation time, as the timeline gives it (rounded to ms)
   * @param {number | null} frameRate
   */
  draw(canvas, seconds, frameRate) {
    const next = this.#busy.then(() => this.#draw(canvas, seconds, frameRate));
    this.#busy = next.catch(() => {});
    return next;
  }

  /**
   * @param {HTMLCanvasElement} canvas
   * @param {number} seconds
   * @param {number | null} frameRate
   */
  async #draw(canvas, seconds, frameRate) {
    if (!(await this.#ready)) return false;
    const video = this.#video;
    // The timeline's times are rounded to the millisecond: a quarter frame later is surely inside the frame.
    const target = Math.min(seconds + (frameRate ? 0.25 / frameRate : 0.005), Math.max(0, video.duration - 0.001));
    const seeked = new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), LOAD_TIMEOUT_MS);
      video.addEventListener(
        'seeked',
        () => {
          clearTimeout(timer);
          resolve(true);
        },
        { once: true },
      );
    });
    video.currentTime = target;
    if (!(await seeked) || video.videoWidth === 0) return false;
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const context = canvas.getContext('2d');
    if (!context) return false;
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    return true;
  }

  dispose() {
    this.#video.removeAttribute('src');
    this.#video.load();
  }
}
