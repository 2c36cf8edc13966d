// Server-sent events for the web page: every second, "captures" with every
// capture's view (state and counters), and with ?capture=NAME, "packets"
// with that capture's packets decoded since the last event. The page reads
// them with fetch (so it can send the token), not EventSource.
import type { FastifyReply } from 'fastify';
import type { CaptureService } from './service';
import { Problem } from './problem';

const INTERVAL_MS = 1000;
/** Event streams open at once: each reads every capture once a second. */
const MAX_EVENT_STREAMS = 32;

export class EventStreams {
  private open = 0;

  constructor(private readonly service: CaptureService) {}

  /** Answers a request with the event stream (a 429 problem beyond the limit). */
  serve(capture: string | undefined, reply: FastifyReply): void {
    if (this.open >= MAX_EVENT_STREAMS) throw new Problem(429, `${MAX_EVENT_STREAMS} event streams are open, the service's limit`, 'close a page');
    this.open++;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'close' });
    let lastSeq = 0;
    const send = () => {
      // A page that does not read gets no more until it does.
      if (res.writableNeedDrain) return;
      const captures = this.service.list();
      let text = `event: captures\ndata: ${JSON.stringify(captures.map((c) => c.view()))}\n\n`;
      const c = capture !== undefined ? captures.find((x) => x.name === capture) : undefined;
      const packets = c?.recentPackets(lastSeq) ?? [];
      if (packets.length) {
        lastSeq = packets[packets.length - 1].seq;
        text += `event: packets\ndata: ${JSON.stringify(packets)}\n\n`;
      }
      res.write(text);
    };
    send();
    const timer = setInterval(send, INTERVAL_MS);
    res.on('close', () => {
      clearInterval(timer);
      this.open--;
    });
  }
}
