import { connect } from '../../client/connection.js';
import type { TestStack } from './stack.js';
import { waitFor } from './wait.js';

/**
 * A well-behaved client on channel `steady`, receiving an event every 20 ms published by this
 * process, to show that whatever else a test does, it keeps getting everything promptly.
 */
export async function steadyClient(stack: TestStack) {
  const connection = connect({ url: stack.url });
  const offsets: number[] = [];
  const latencies: number[] = [];
  let published = 0;
  const sub = connection.channel('steady', { token: await stack.jobcast.token(['steady']) });
  sub.on('*', (e) => {
    offsets.push(e.offset);
    latencies.push(Date.now() - e.ts);
  });
  await sub.subscribe();
  const publisher = setInterval(() => void stack.jobcast.trigger('steady', 'tick', { n: ++published }), 20);
  return {
    offsets,
    latencies,
    /** Stops publishing and waits until the client has everything that was published. */
    async settle(): Promise<void> {
      clearInterval(publisher);
      await waitFor(() => offsets.length >= published, 'the steady client to catch up');
    },
    close(): void {
      clearInterval(publisher);
      connection.close();
    },
  };
}
