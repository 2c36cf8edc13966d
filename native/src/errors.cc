#include "errors.h"

#include <string.h>

namespace netcap {

Napi::Value ThrowErrno(Napi::Env env, int err, const std::string &what) {
  if (err < 0) err = -err;
  const char *name = strerrorname_np(err);
  Napi::Error e = Napi::Error::New(env, what + ": " + strerror(err));
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, err));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Napi::Value ThrowCode(Napi::Env env, const char *code, const std::string &what) {
  Napi::Error e = Napi::Error::New(env, what);
  e.Set("code", Napi::String::New(env, code));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

bool ArgFd(const Napi::CallbackInfo &info, size_t i, int *fd) {
  if (info.Length() <= i || !info[i].IsNumber() || info[i].As<Napi::Number>().Int32Value() < 0) {
    Napi::TypeError::New(info.Env(), "expected a file descriptor").ThrowAsJavaScriptException();
    return false;
  }
  *fd = info[i].As<Napi::Number>().Int32Value();
  return true;
}

}  // namespace netcap
