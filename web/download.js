// Saving what the page made (CSV, JSON, a zip from the service) as a file: one place for the
// object-URL dance, used by the photo, video and survey downloads.

/** A local date-time for file names: 20261205-171500. */
export function stamp() {
  const d = new Date();
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${pad(d.getMonth() + 1)}${pad(d.getDate())}-${pad(d.getHours())}${pad(d.getMinutes())}${pad(d.getSeconds())}`;
}

/**
 * @param {string | Blob} content
 * @param {string} type
 * @param {string} filename
 */
export function download(content, type, filename) {
  const blob = typeof content === 'string' ? new Blob([content], { type }) : content;
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
