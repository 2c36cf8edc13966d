// netcap's native addon: a thin layer over libpcap, libbpf and a few
// syscalls (perf events, AF_PACKET sending) and the hot copy of packet bytes into output buffers. Everything that decides anything lives in TypeScript (src/).
#include <napi.h>

namespace netcap {
void InitPcap(Napi::Env env, Napi::Object exports);
void InitBpf(Napi::Env env, Napi::Object exports);
void InitPerf(Napi::Env env, Napi::Object exports);
void InitRingBuffer(Napi::Env env, Napi::Object exports);
void InitPacket(Napi::Env env, Napi::Object exports);
void InitNetns(Napi::Env env, Napi::Object exports);
void InitCopy(Napi::Env env, Napi::Object exports);
void InitFileMap(Napi::Env env, Napi::Object exports);
}  // namespace netcap

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  netcap::InitPcap(env, exports);
  netcap::InitBpf(env, exports);
  netcap::InitPerf(env, exports);
  netcap::InitRingBuffer(env, exports);
  netcap::InitPacket(env, exports);
  netcap::InitNetns(env, exports);
  netcap::InitCopy(env, exports);
  netcap::InitFileMap(env, exports);
  return exports;
}

NODE_API_MODULE(netcap, Init)
