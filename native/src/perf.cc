// perf_event_open for the events BPF programs hang on: uprobes, kprobes
// (PMU type read from sysfs by TypeScript) and tracepoints (by id).
#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "convert.h"
#include "errors.h"

namespace netcap {
namespace {


// perfEventOpen({ type, config, config1Str?, config2, pid, cpu }) -> fd
// For probe PMUs config1 carries a pointer to the path (uprobe) or symbol
// (kprobe) and config2 the offset; for tracepoints config is the event id.
Napi::Value PerfEventOpen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return ThrowCode(env, "EINVAL", "perfEventOpen(attr)");
  Napi::Object o = info[0].As<Napi::Object>();
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  attr.type = o.Get("type").As<Napi::Number>().Uint32Value();
  attr.config = ToU64(o.Get("config"));
  std::string str;
  if (o.Get("config1Str").IsString()) {
    str = o.Get("config1Str").As<Napi::String>();
    attr.config1 = reinterpret_cast<uint64_t>(str.c_str());
  }
  attr.config2 = ToU64(o.Get("config2"));
  attr.sample_period = 1;
  attr.wakeup_events = 1;
  int pid = o.Get("pid").IsNumber() ? o.Get("pid").As<Napi::Number>().Int32Value() : -1;
  int cpu = o.Get("cpu").IsNumber() ? o.Get("cpu").As<Napi::Number>().Int32Value() : -1;
  int fd = syscall(__NR_perf_event_open, &attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, errno, "perf_event_open");
  return Napi::Number::New(env, fd);
}

// perfEnable(fd) / perfDisable(fd)
Napi::Value PerfIoctl(const Napi::CallbackInfo &info, unsigned long req, const char *what) {
  int fd;
  if (!ArgFd(info, 0, &fd)) return info.Env().Undefined();
  if (ioctl(fd, req, 0) != 0) return ThrowErrno(info.Env(), errno, what);
  return info.Env().Undefined();
}
Napi::Value PerfEnable(const Napi::CallbackInfo &info) { return PerfIoctl(info, PERF_EVENT_IOC_ENABLE, "PERF_EVENT_IOC_ENABLE"); }
Napi::Value PerfDisable(const Napi::CallbackInfo &info) { return PerfIoctl(info, PERF_EVENT_IOC_DISABLE, "PERF_EVENT_IOC_DISABLE"); }

}  // namespace

void InitPerf(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("open", Napi::Function::New(env, PerfEventOpen));
  o.Set("enable", Napi::Function::New(env, PerfEnable));
  o.Set("disable", Napi::Function::New(env, PerfDisable));
  exports.Set("perf", o);
}

}  // namespace netcap
