// The filter pipeline's public API: tcpdump expression -> cBPF (libpcap) ->
// eBPF fragment (compileToEbpf) or C (emitC); libpcap's bpf_filter as the
// reference; the tcpdump -d printer.
export { compileCbpf, libpcapFilter, libpcapValidate, linktypeValue, linktypeName, DEFAULT_SNAPLEN } from './libpcap';
export type { CbpfProgram, CompileOptions } from './libpcap';
export { decodeCbpf, encodeCbpf, formatCbpf, formatCbpfInsn } from './cbpf';
export type { CbpfInsn } from './cbpf';
export { compileToEbpf, reachable, CompileError, ANCILLARY_FIELDS, SKF_AD_OFF } from './compiler';
export type { FragmentOptions, MemoryModel, PacketModel, BufferModel, AncillaryField, AncillaryLoads } from './compiler';
export { emitC, C_PRELUDE } from './c-emit';
