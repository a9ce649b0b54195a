// npm's install step: compiles the libjpeg-turbo decoding addon (native/jpeg, binding.gyp) with
// node-gyp. It is an optimisation, not a requirement: without a C compiler or libjpeg-turbo's headers
// (Debian: libjpeg62-turbo-dev) the build fails, this says so in two lines, and the install goes on;
// sharp then decodes every JPEG (src/engine/jpeg-native.ts).
import { spawnSync } from 'node:child_process';

// npm hands its own node-gyp to install scripts; outside npm, one on the PATH.
const nodeGyp = process.env.npm_config_node_gyp;
const [command, args] = nodeGyp ? [process.execPath, [nodeGyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const build = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
if (build.status === 0) {
  console.log('marine-classifier: built the libjpeg-turbo addon (build/Release/jpeg_decode.node)');
} else {
  const output = `${build.stdout ?? ''}${build.stderr ?? ''}${build.error ? String(build.error) : ''}`;
  const reason = output.split('\n').find((line) => /error|not found/i.test(line)) ?? 'node-gyp failed';
  console.warn(`marine-classifier: the libjpeg-turbo addon was not built (${reason.trim()}).`);
  console.warn(
    "JPEGs will be decoded by sharp (same pixels, more CPU); install libjpeg-turbo's headers and run `npm run install` to build it.",
  );
}
