/** `marine-classifier serve` as a real process on a free loopback port, with the shared test model. */
import { freePort, spawnCli, until, type ChildHandle } from './redis-processes.ts';
import { TEST_MODEL } from './shared.ts';

export interface ServeProcess {
  baseUrl: string;
  port: number;
  process: ChildHandle;
  close(): Promise<void>;
}

export async function startServeProcess(env: Record<string, string> = {}): Promise<ServeProcess> {
  const port = await freePort();
  const child = spawnCli(['serve', '--host', '127.0.0.1', '--port', String(port)], {
    MODEL_PATH: TEST_MODEL,
    API_KEYS: '',
    RATE_LIMIT_MAX: '',
    QUEUE_URL: '',
    LOG_LEVEL: 'warn',
    ...env,
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  await until(
    'serve to be ready',
    async () => {
      if (child.child.exitCode !== null) throw new Error(`serve exited (${child.child.exitCode}):\n${child.output()}`);
      return fetch(`${baseUrl}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
    },
    60_000,
    100,
  );
  return {
    baseUrl,
    port,
    process: child,
    async close() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await child.exited;
      clearTimeout(timer);
    },
  };
}
