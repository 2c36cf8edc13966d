// copyRanges: the packet bytes of a batch of records copied into an output
// buffer in one call. Writing a small packet from JavaScript cost a view
// object per packet for TypedArray set (and the garbage it leaves), or a
// word loop through DataViews: about 175 ns for 60 bytes, more than tcpdump
// spends on a whole packet (issue 18). Which bytes go where is decided in
// TypeScript (src/output/range-copies.ts); this only checks and copies.
#include <string.h>

#include <string>

#include "errors.h"

namespace netcap {
namespace {

// copyRanges(source: Uint8Array, out: Uint8Array, jobs: Uint32Array, count):
// for k < count, jobs[3k + 2] bytes from source at jobs[3k] to out at
// jobs[3k + 1]. Every range is checked before anything is copied.
Napi::Value CopyRanges(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsTypedArray() || !info[3].IsNumber()) {
    return ThrowCode(env, "EINVAL", "copyRanges(source, out, jobs, count)");
  }
  Napi::TypedArray source = info[0].As<Napi::TypedArray>();
  Napi::TypedArray out = info[1].As<Napi::TypedArray>();
  Napi::TypedArray jobsArray = info[2].As<Napi::TypedArray>();
  if (source.TypedArrayType() != napi_uint8_array || out.TypedArrayType() != napi_uint8_array || jobsArray.TypedArrayType() != napi_uint32_array) {
    return ThrowCode(env, "EINVAL", "copyRanges: source and out must be Uint8Arrays, jobs a Uint32Array");
  }
  const uint8_t *from = static_cast<const uint8_t *>(source.ArrayBuffer().Data()) + source.ByteOffset();
  uint8_t *to = static_cast<uint8_t *>(out.ArrayBuffer().Data()) + out.ByteOffset();
  const uint32_t *jobs = reinterpret_cast<const uint32_t *>(static_cast<const uint8_t *>(jobsArray.ArrayBuffer().Data()) + jobsArray.ByteOffset());
  const uint64_t fromLength = source.ByteLength();
  const uint64_t toLength = out.ByteLength();
  const uint64_t count = info[3].As<Napi::Number>().Int64Value();
  if (3 * count > jobsArray.ElementLength()) return ThrowCode(env, "ERANGE", "copyRanges: count exceeds the jobs given");
  for (uint64_t k = 0; k < count; k++) {
    const uint64_t length = jobs[3 * k + 2];
    if (jobs[3 * k] + length > fromLength || jobs[3 * k + 1] + length > toLength) {
      return ThrowCode(env, "ERANGE", "copyRanges: range " + std::to_string(k) + " lies outside its buffer");
    }
  }
  for (uint64_t k = 0; k < count; k++) memcpy(to + jobs[3 * k + 1], from + jobs[3 * k], jobs[3 * k + 2]);
  return env.Undefined();
}

}  // namespace

void InitCopy(Napi::Env env, Napi::Object exports) {
  exports.Set("copyRanges", Napi::Function::New(env, CopyRanges));
}

}  // namespace netcap
