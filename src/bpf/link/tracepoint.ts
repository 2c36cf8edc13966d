// Classic tracepoints: a PERF_TYPE_TRACEPOINT event whose config is the
// tracefs id (kernel/trace/trace_event_perf.c), and a TRACEPOINT-type
// program that gets the event's record (layout: tracefs format) as context.
import { parseTracepointName, tracepointId, type TracepointName } from '../../tracefs/tracepoint';
import type { Program } from '../program';
import { attachPerfEvent, PERF_TYPE_TRACEPOINT } from './perf-event';
import type { Link } from './link';

/** Runs `prog` on every hit of the tracepoint ("net:netif_receive_skb"), on every CPU. */
export function attachTracepoint(prog: Program, tracepoint: string | TracepointName, cookie?: bigint): Link {
  const tp = typeof tracepoint === 'string' ? parseTracepointName(tracepoint) : tracepoint;
  const id = tracepointId(tp);
  return attachPerfEvent(prog, { type: PERF_TYPE_TRACEPOINT, config: id, pid: -1 }, 'tracepoint', `${tp.category}:${tp.name}`, cookie);
}
