// mapFile: a file's bytes mapped read-only and private, as an ArrayBuffer
// that unmaps itself when V8 collects it. For /sys/kernel/btf/vmlinux
// (5.5 MB): sysfs hands a read(2) at most one page, so reading it took
// Node ~1,350 calls and 5-6 ms of every skb start-up, where the mapping
// costs microseconds (kernels since 6.16 map it; older ones say ENODEV or
// EINVAL and the caller reads the file instead). The kernel refuses a
// shared mapping of that file, hence MAP_PRIVATE.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "errors.h"

namespace netcap {
namespace {

void Unmap(Napi::Env, void *data, size_t *length) {
  munmap(data, *length);
  delete length;
}

// mapFile(path) -> ArrayBuffer, read-only: writing into it is a fault.
Napi::Value MapFile(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowCode(env, "EINVAL", "mapFile(path)");
  const std::string path = info[0].As<Napi::String>();
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ThrowErrno(env, errno, "open " + path);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, err, "stat " + path);
  }
  if (st.st_size <= 0) {
    close(fd);
    return ThrowCode(env, "EINVAL", path + " has no size to map");
  }
  size_t length = static_cast<size_t>(st.st_size);
  void *data = mmap(nullptr, length, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  close(fd);  // the mapping holds the file
  if (data == MAP_FAILED) return ThrowErrno(env, err, "mmap " + path);
  auto *hint = new size_t(length);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, data, length, Unmap, hint);
  if (env.IsExceptionPending()) {
    munmap(data, length);
    delete hint;
    return env.Undefined();
  }
  return buffer;
}

}  // namespace

void InitFileMap(Napi::Env env, Napi::Object exports) {
  exports.Set("mapFile", Napi::Function::New(env, MapFile));
}

}  // namespace netcap
