import { fileURLToPath } from 'node:url';

/**
 * Where a worker thread's module is and how to start it. The project runs its TypeScript through
 * tsx; a worker thread does not inherit loaders registered at run time, so a .ts worker is
 * started with tsx's loader on its command line.
 */
export function workerModule(url: URL): { filename: string; execArgv: string[] } {
  const filename = fileURLToPath(url);
  if (!filename.endsWith('.ts')) return { filename, execArgv: process.execArgv };
  const hasTsx = process.execArgv.some((arg) => arg.includes('tsx'));
  if (hasTsx) return { filename, execArgv: process.execArgv };
  const tsxLoader = import.meta.resolve('tsx');
  return { filename, execArgv: [...process.execArgv, '--import', tsxLoader] };
}

/** The worker file beside this one, with the extension this process runs (.ts under tsx, .js when built). */
export function siblingWorker(name: string): URL {
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${name}${ext}`, import.meta.url);
}
