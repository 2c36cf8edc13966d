// libpcap: compile tcpdump expressions to classic BPF on a dead, savefile or
// live handle (a live one's code uses the Linux socket filter's metadata),
// and run libpcap's own bpf_filter (the reference interpreter for our tests).
// Kept apart from libbpf code: both headers define struct bpf_insn.
#include <pcap/pcap.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "errors.h"

namespace netcap {
namespace {

// A savefile handle of `linktype` and `snaplen`, the handle tcpdump -r
// compiles on: a pcap file header held in memory, opened as a file. libpcap
// generates different code for savefiles than for dead or live handles
// (inbound/outbound, ifindex, the BSD address families of DLT_NULL), and
// adjusts the snap length as it does for a file. The header carries the DLT
// value, which libpcap's linktype_to_dlt maps to itself for Linux's DLTs.
pcap_t *OpenSavefile(int linktype, int snaplen, char *errbuf) {
  struct pcap_file_header header = {};
  header.magic = 0xa1b2c3d4;  // host byte order, microseconds
  header.version_major = PCAP_VERSION_MAJOR;
  header.version_minor = PCAP_VERSION_MINOR;
  header.snaplen = static_cast<bpf_u_int32>(snaplen);
  header.linktype = static_cast<bpf_u_int32>(linktype);
  FILE *f = fmemopen(&header, sizeof header, "rb");
  if (!f) {
    snprintf(errbuf, PCAP_ERRBUF_SIZE, "fmemopen: %s", strerror(errno));
    return nullptr;
  }
  // The header is read at once; pcap_close closes f.
  pcap_t *p = pcap_fopen_offline(f, errbuf);
  if (!p) fclose(f);
  return p;
}

// The netmask of the options object at index i (host order, as gencode
// compares it with loaded packet words), PCAP_NETMASK_UNKNOWN when absent.
bpf_u_int32 NetmaskOption(const Napi::CallbackInfo &info, size_t i) {
  if (info.Length() <= i || !info[i].IsObject()) return PCAP_NETMASK_UNKNOWN;
  Napi::Object o = info[i].As<Napi::Object>();
  return o.Has("netmask") && o.Get("netmask").IsNumber() ? o.Get("netmask").As<Napi::Number>().Uint32Value() : PCAP_NETMASK_UNKNOWN;
}

// pcap_compile on handle p, which it closes: the instructions as a Buffer
// (8 bytes each, host order: u16 code, u8 jt, u8 jf, u32 k), or a thrown
// EFILTER error with libpcap's message.
Napi::Value CompileOn(Napi::Env env, pcap_t *p, const std::string &expr, bool optimize, bpf_u_int32 netmask) {
  struct bpf_program prog;
  if (pcap_compile(p, &prog, expr.c_str(), optimize ? 1 : 0, netmask) != 0) {
    std::string msg = pcap_geterr(p);
    pcap_close(p);
    return ThrowCode(env, "EFILTER", msg);
  }
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t *>(prog.bf_insns),
                                                          prog.bf_len * sizeof(struct bpf_insn));
  pcap_freecode(&prog);
  pcap_close(p);
  return out;
}

// compile(linktype, snaplen, expression, optimize[, {savefile, netmask}]) ->
// Buffer of cBPF insns (8 bytes each, host order: u16 code, u8 jt, u8 jf, u32 k).
// The handle is a dead one unless savefile is true; netmask defaults to
// PCAP_NETMASK_UNKNOWN.
Napi::Value Compile(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsString() || !info[3].IsBoolean() ||
      (info.Length() > 4 && !info[4].IsObject()))
    return ThrowCode(env, "EINVAL", "compile(linktype, snaplen, expression, optimize[, {savefile, netmask}])");
  int linktype = info[0].As<Napi::Number>().Int32Value();
  int snaplen = info[1].As<Napi::Number>().Int32Value();
  std::string expr = info[2].As<Napi::String>();
  bool optimize = info[3].As<Napi::Boolean>();
  bool savefile = info.Length() > 4 && info[4].As<Napi::Object>().Get("savefile").ToBoolean();
  bpf_u_int32 netmask = NetmaskOption(info, 4);
  char errbuf[PCAP_ERRBUF_SIZE];
  pcap_t *p = savefile ? OpenSavefile(linktype, snaplen, errbuf) : pcap_open_dead(linktype, snaplen);
  if (!p) return ThrowCode(env, "EPCAP", savefile ? errbuf : "pcap_open_dead failed");
  return CompileOn(env, p, expr, optimize, netmask);
}

// compileLive(device, snaplen, expression, optimize[, {netmask}]) -> { code, linktype, snaplen }:
// pcap_compile on an activated capture handle for `device` (not promiscuous;
// closed before this returns, so it captures nothing for anyone). On Linux
// such a handle's code reads the socket filter's metadata: the packet type
// for inbound/outbound, the VLAN tag the kernel took out of the packet for
// `vlan` (pcap-linux.c sets BPF_SPECIAL_VLAN_HANDLING when the kernel has
// SKF_AD_VLAN_TAG_PRESENT), the ifindex. Activation errors throw EPCAP with
// libpcap's message (the device does not exist, is not up, no permission).
Napi::Value CompileLive(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsString() || !info[3].IsBoolean() ||
      (info.Length() > 4 && !info[4].IsObject()))
    return ThrowCode(env, "EINVAL", "compileLive(device, snaplen, expression, optimize[, {netmask}])");
  std::string device = info[0].As<Napi::String>();
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  pcap_t *p = pcap_create(device.c_str(), errbuf);
  if (!p) return ThrowCode(env, "EPCAP", errbuf);
  pcap_set_snaplen(p, info[1].As<Napi::Number>().Int32Value());
  pcap_set_promisc(p, 0);
  // The smallest ring: the handle only ever compiles (the ring costs ~15 ms at the 2 MB default).
  pcap_set_buffer_size(p, 1);
  int status = pcap_activate(p);
  if (status < 0) {
    std::string msg = status == PCAP_ERROR ? std::string(pcap_geterr(p)) : device + ": " + pcap_statustostr(status);
    if (status != PCAP_ERROR && pcap_geterr(p)[0] != 0) msg += std::string(" (") + pcap_geterr(p) + ")";
    pcap_close(p);
    return ThrowCode(env, "EPCAP", msg);
  }
  int linktype = pcap_datalink(p);
  int snaplen = pcap_snapshot(p);
  Napi::Value code = CompileOn(env, p, info[2].As<Napi::String>(), info[3].As<Napi::Boolean>(), NetmaskOption(info, 4));
  if (env.IsExceptionPending()) return env.Undefined();
  Napi::Object r = Napi::Object::New(env);
  r.Set("code", code);
  r.Set("linktype", Napi::Number::New(env, linktype));
  r.Set("snaplen", Napi::Number::New(env, snaplen));
  return r;
}

bool ProgramArg(const Napi::CallbackInfo &info, size_t i, struct bpf_program *prog) {
  if (info.Length() <= i || !info[i].IsBuffer()) return false;
  auto buf = info[i].As<Napi::Buffer<uint8_t>>();
  if (buf.Length() % sizeof(struct bpf_insn) != 0) return false;
  prog->bf_len = buf.Length() / sizeof(struct bpf_insn);
  prog->bf_insns = reinterpret_cast<struct bpf_insn *>(buf.Data());
  return true;
}

// filter(program, packet, wirelen) -> libpcap's verdict (snap length kept, 0 = drop).
// The packet Buffer's length is the captured length.
Napi::Value Filter(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  struct bpf_program prog;
  if (!ProgramArg(info, 0, &prog) || info.Length() < 3 || !info[1].IsBuffer() || !info[2].IsNumber())
    return ThrowCode(env, "EINVAL", "filter(program, packet, wirelen)");
  auto pkt = info[1].As<Napi::Buffer<uint8_t>>();
  uint32_t wirelen = info[2].As<Napi::Number>().Uint32Value();
  u_int r = bpf_filter(prog.bf_insns, pkt.Data(), wirelen, pkt.Length());
  return Napi::Number::New(env, r);
}

// validate(program) -> libpcap's bpf_validate: is this a program the kernel's
// classic BPF checker would accept (forward jumps, ends in ret, M[] in range)?
Napi::Value Validate(const Napi::CallbackInfo &info) {
  struct bpf_program prog;
  if (!ProgramArg(info, 0, &prog)) return ThrowCode(info.Env(), "EINVAL", "validate(program)");
  return Napi::Boolean::New(info.Env(), bpf_validate(prog.bf_insns, prog.bf_len) != 0);
}

// linktype(name) -> DLT value or -1; linktypeName(value) -> name or null.
Napi::Value Linktype(const Napi::CallbackInfo &info) {
  if (info.Length() < 1 || !info[0].IsString()) return ThrowCode(info.Env(), "EINVAL", "linktype(name)");
  std::string name = info[0].As<Napi::String>();
  return Napi::Number::New(info.Env(), pcap_datalink_name_to_val(name.c_str()));
}

Napi::Value LinktypeName(const Napi::CallbackInfo &info) {
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowCode(info.Env(), "EINVAL", "linktypeName(value)");
  const char *n = pcap_datalink_val_to_name(info[0].As<Napi::Number>().Int32Value());
  if (!n) return info.Env().Null();
  return Napi::String::New(info.Env(), n);
}

}  // namespace

void InitPcap(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("compile", Napi::Function::New(env, Compile));
  o.Set("compileLive", Napi::Function::New(env, CompileLive));
  o.Set("filter", Napi::Function::New(env, Filter));
  o.Set("validate", Napi::Function::New(env, Validate));
  o.Set("linktype", Napi::Function::New(env, Linktype));
  o.Set("linktypeName", Napi::Function::New(env, LinktypeName));
  o.Set("version", Napi::String::New(env, pcap_lib_version()));
  exports.Set("pcap", o);
}

}  // namespace netcap
