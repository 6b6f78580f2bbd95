/**
 * The log's thread: takes batches of packed entries from the server's thread, writes them with a
 * {@link LogWriter}, and tells its counts through shared memory (see {@link Counts}), so the
 * server reads them without a message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { DropReason } from './queue.js';
import { Counts, type FromThread, type ThreadData, type ToThread } from './thread-protocol.js';
import { unpackEntries } from './wire.js';
import { LogWriter, sinkNames } from './writer.js';

const port = parentPort;
if (port === null) throw new Error('the log thread runs in a worker thread');
const { options, counts: shared } = workerData as ThreadData;
const counts = new Counts(shared);
const sinks = sinkNames(options).length;
const post = (m: FromThread) => port.postMessage(m);

const writer = new LogWriter(options, {
  onDrop: (sink: number, reason: DropReason, n: number) => counts.addDrop(sink, reason, n),
  onError: (sink, message) => post({ type: 'warn', sink, message }),
});

const written: number[] = [];
const lastErrors: (string | undefined)[] = [];

/** The queues' state into the shared counts; a sink's last error, when it changes, by message. */
function publish(): void {
  writer.status().forEach((s, i) => {
    counts.setQueued(i, s.queued);
    counts.addWritten(i, s.written - (written[i] ?? 0));
    written[i] = s.written;
    if (s.lastError !== lastErrors[i]) {
      lastErrors[i] = s.lastError;
      post({ type: 'lastError', sink: i, error: s.lastError });
    }
  });
}

const timer = setInterval(publish, 50);
timer.unref();

port.on('message', (m: ToThread) => {
  if (m.type === 'close') {
    clearInterval(timer);
    void writer.close().then(() => {
      publish();
      post({ type: 'closed' });
    });
    return;
  }
  let entries;
  try {
    entries = unpackEntries(m.packed);
  } catch {
    // Not expected (the server packed it): the batch is lost to every sink, and counted.
    for (let i = 0; i < sinks; i++) counts.addDrop(i, 'sink_error', m.n);
  }
  if (entries !== undefined) writer.write(entries);
  counts.addTaken(m.n);
});
