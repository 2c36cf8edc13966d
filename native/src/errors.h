// Errors cross into JavaScript as NativeError-shaped objects: a message and a
// string code naming the errno ("EPERM"), so TypeScript can decide policy.
#pragma once
#include <napi.h>
#include <string>

namespace netcap {

// Throws a JS Error whose .code is the errno name and .errno the number.
// Returns an empty value so callers can `return ThrowErrno(...)`.
Napi::Value ThrowErrno(Napi::Env env, int err, const std::string &what);

// Throws a JS Error with .code set to the given string.
Napi::Value ThrowCode(Napi::Env env, const char *code, const std::string &what);

// Reads an fd argument; throws TypeError when it is not a non-negative int.
bool ArgFd(const Napi::CallbackInfo &info, size_t i, int *fd);

}  // namespace netcap
