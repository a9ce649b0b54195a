#!/usr/bin/env node
// The compiled CLI (npm run build, run by npm ci through `prepare`). During development:
// `npm run dev -- <args>` runs the TypeScript sources through tsx instead.
await import('../dist/cli/main.js');
