// Conversions of JavaScript values the addon's functions share.
#pragma once
#include <napi.h>

#include <cstdint>

namespace netcap {

// A u64 from a BigInt (exact) or a Number (integers up to 2^53); 0 otherwise.
inline uint64_t ToU64(const Napi::Value &v) {
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  if (v.IsNumber()) return static_cast<uint64_t>(v.As<Napi::Number>().Int64Value());
  return 0;
}

}  // namespace netcap
