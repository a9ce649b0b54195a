/**
 * Follows BullMQ's event stream for a queue with one blocking XREAD loop on a connection of our
 * own. (BullMQ's QueueEvents duplicates the connection it is given, and cannot be closed while
 * Redis has never answered: the duplicate would keep a process alive, reconnecting forever.)
 * Reading from the last id seen, events sent while the connection was down are not missed.
 */
import type { Redis } from 'ioredis';

export interface QueueStreamEvent {
  /** 'active', 'completed', 'failed', 'removed', 'progress', ... */
  event: string;
  jobId?: string;
}

export interface EventFollower {
  stop(): void;
}

/** How long one XREAD blocks; bounded so that a stopped follower is noticed. */
const BLOCK_MS = 5000;

export function followQueueEvents(
  redis: Redis,
  streamKey: string,
  onEvent: (event: QueueStreamEvent) => void,
): EventFollower {
  let stopped = false;
  let lastId = '$';

  async function loop(): Promise<void> {
    while (!stopped) {
      try {
        const reply = await redis.xread('BLOCK', BLOCK_MS, 'STREAMS', streamKey, lastId);
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            lastId = id;
            const record: Record<string, string> = {};
            for (let i = 0; i + 1 < fields.length; i += 2) record[fields[i]] = fields[i + 1];
            onEvent({ event: record.event ?? '', jobId: record.jobId });
          }
        }
      } catch {
        // Redis away or the connection closed: the connection reconnects by itself; try again shortly.
        if (!stopped) await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }
  void loop();

  return {
    stop() {
      stopped = true;
    },
  };
}
