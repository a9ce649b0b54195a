// Dropped folders are read through the File and Directory Entries API; the page's drop zone and the
// Teach panel both need every file below one, so the walk lives here once.

/**
 * Reads every file below a dropped folder with its path ("/reef/Chromis/a.png").
 * @param {FileSystemEntry} entry
 * @param {{ file: File, path: string }[]} out
 */
export async function filesBelow(entry, out) {
  if (entry.isFile) {
    /** @type {File | null} */
    const file = await new Promise((resolve) =>
      /** @type {FileSystemFileEntry} */ (entry).file(resolve, () => resolve(null)),
    );
    if (file) out.push({ file, path: entry.fullPath });
    return;
  }
  if (!entry.isDirectory) return;
  const reader = /** @type {FileSystemDirectoryEntry} */ (entry).createReader();
  for (;;) {
    /** @type {FileSystemEntry[]} */
    const batch = await new Promise((resolve) => reader.readEntries(resolve, () => resolve([])));
    if (batch.length === 0) break;
    for (const child of batch) await filesBelow(child, out);
  }
}
