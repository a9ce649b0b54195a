/**
 * The image host of part 3's URL rows, run as its own process (forked by http-load.ts) like the
 * load generator, so it never waits behind the bench's own event loop. Receives the image paths
 * over IPC, answers the port it listens on (127.0.0.1 only), and later how many images it served.
 *
 * Each answer carries a few unique bytes after the JPEG's end marker, for the same reason as the
 * uploads in load-client.ts: no sha256-keyed result cache can answer a repeated image.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ImageServerMessage = { files: string[] } | 'served?';
export type ImageServerReply = { port: number } | { served: number };

let served = 0;

function serve(files: string[]): void {
  const images = files.map((file) => readFileSync(file));
  const server = createServer((req, res) => {
    const m = /^\/img\/(\d+)\.jpg/.exec(req.url ?? '');
    const image = m ? images[Number(m[1])] : undefined;
    if (!image) {
      res.writeHead(404).end();
      return;
    }
    // Image and marker written as two pieces of one corked write: no 100 kB copy per answer.
    const marker = Buffer.from(`\0img-${served++}`);
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': image.length + marker.length });
    res.cork();
    res.write(image);
    res.end(marker);
  });
  server.keepAliveTimeout = 30_000;
  server.listen(0, '127.0.0.1', () =>
    process.send!({ port: (server.address() as AddressInfo).port } satisfies ImageServerReply),
  );
}

process.on('message', (message: ImageServerMessage) => {
  if (message === 'served?') process.send!({ served } satisfies ImageServerReply);
  else serve(message.files);
});
// Never outlive the bench.
process.once('disconnect', () => process.exit(0));
