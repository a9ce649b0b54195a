/**
 * Every ffmpeg/ffprobe this process started and has not yet seen exit, so none outlives what it
 * was started for: stop() ends one (SIGTERM, then SIGKILL after a grace), and the process's own
 * exit kills whatever is left. (If this process is SIGKILLed, ffmpeg's next write to the closed
 * pipe ends it.)
 */
import { type ChildProcess, spawn } from 'node:child_process';

const live = new Set<ChildProcess>();
/** How long SIGTERM may take before SIGKILL. */
export const KILL_GRACE_MS = 2000;

let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** Spawns a tool without a shell, tracked until it exits. */
export function spawnTracked(file: string, args: string[]): ChildProcess {
  installExitHook();
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('close', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Ends the child and resolves once it is gone: SIGTERM, and SIGKILL when it is still there after the grace. */
export function stopChild(child: ChildProcess, graceMs = KILL_GRACE_MS): Promise<void> {
  if (exited(child) || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** The children still running (for tests and shutdown). */
export function liveChildren(): number {
  return live.size;
}
