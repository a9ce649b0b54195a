import { fileURLToPath } from 'node:url';

/**
 * The flags of this process that a worker thread needs and accepts: module hooks (tsx's loader
 * among them). Everything else stays behind: `new Worker` throws on V8 and process-wide flags,
 * so `node --max-old-space-size=4096 … serve` used to fail at start-up.
 */
export function moduleHookFlags(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const hook = /^(--import|--require|-r|--loader|--experimental-loader)(=.*)?$/.exec(execArgv[i]);
    if (!hook) continue;
    if (hook[2]) kept.push(execArgv[i]);
    else if (i + 1 < execArgv.length) kept.push(execArgv[i], execArgv[++i]);
  }
  return kept;
}

/**
 * Where a worker thread's module is and how to start it. The built service runs compiled .js and
 * needs no loader. Tests and `npm run dev` run the TypeScript through tsx; a worker thread does
 * not inherit loaders registered at run time, so a .ts worker gets tsx's loader on its command line.
 */
export function workerModule(url: URL): { filename: string; execArgv: string[] } {
  const filename = fileURLToPath(url);
  const hooks = moduleHookFlags(process.execArgv);
  if (!filename.endsWith('.ts') || hooks.some((arg) => arg.includes('tsx'))) return { filename, execArgv: hooks };
  return { filename, execArgv: [...hooks, '--import', import.meta.resolve('tsx')] };
}

/** The worker file beside this one, with the extension this process runs (.ts under tsx, .js when built). */
export function siblingWorker(name: string): URL {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${name}${ext}`, import.meta.url);
}
