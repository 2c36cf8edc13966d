// libbpf's low-level API (no bpf_object, no ELF): programs built in
// TypeScript are loaded, maps created and looked up, links made and closed.
// Policy (retry with the verifier log, per-CPU value sizes, feature probes)
// lives in src/bpf/*.ts.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "convert.h"
#include "errors.h"

namespace netcap {
namespace {

uint32_t U32(const Napi::Object &o, const char *key, uint32_t def = 0) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : def;
}


// progLoad(type, name, license, insns, opts) -> fd
// opts: expectedAttachType, attachBtfId, attachBtfObjFd, progFlags, logLevel, logSize.
// On failure throws with .code (errno name) and, when logLevel > 0, .log (the verifier log).
Napi::Value ProgLoad(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsString() || !info[3].IsBuffer() ||
      !info[4].IsObject())
    return ThrowCode(env, "EINVAL", "progLoad(type, name, license, insns, opts)");
  auto type = static_cast<enum bpf_prog_type>(info[0].As<Napi::Number>().Uint32Value());
  std::string name = info[1].As<Napi::String>();
  std::string license = info[2].As<Napi::String>();
  auto insns = info[3].As<Napi::Buffer<uint8_t>>();
  Napi::Object o = info[4].As<Napi::Object>();
  if (insns.Length() % sizeof(struct bpf_insn) != 0) return ThrowCode(env, "EINVAL", "insns length is not a multiple of 8");

  LIBBPF_OPTS(bpf_prog_load_opts, opts);
  opts.expected_attach_type = static_cast<enum bpf_attach_type>(U32(o, "expectedAttachType"));
  opts.attach_btf_id = U32(o, "attachBtfId");
  opts.attach_btf_obj_fd = U32(o, "attachBtfObjFd");
  opts.prog_flags = U32(o, "progFlags");
  opts.log_level = U32(o, "logLevel");
  std::vector<char> log;
  if (opts.log_level) {
    log.resize(U32(o, "logSize", 1 << 24));
    log[0] = 0;
    opts.log_buf = log.data();
    opts.log_size = log.size();
  }
  int fd = bpf_prog_load(type, name.empty() ? nullptr : name.c_str(), license.c_str(),
                         reinterpret_cast<const struct bpf_insn *>(insns.Data()), insns.Length() / 8, &opts);
  if (fd < 0) {
    int err = errno;
    Napi::Error e = Napi::Error::New(env, std::string("BPF_PROG_LOAD: ") + strerror(err));
    const char *ename = strerrorname_np(err);
    e.Set("code", Napi::String::New(env, ename ? ename : "EUNKNOWN"));
    e.Set("errno", Napi::Number::New(env, err));
    if (opts.log_level) e.Set("log", Napi::String::New(env, log.data(), strnlen(log.data(), log.size())));
    e.ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, fd);
}

// mapCreate(type, name, keySize, valueSize, maxEntries, flags) -> fd
Napi::Value MapCreate(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[1].IsString()) return ThrowCode(env, "EINVAL", "mapCreate(type, name, keySize, valueSize, maxEntries, flags)");
  auto type = static_cast<enum bpf_map_type>(info[0].As<Napi::Number>().Uint32Value());
  std::string name = info[1].As<Napi::String>();
  LIBBPF_OPTS(bpf_map_create_opts, opts);
  opts.map_flags = info[5].As<Napi::Number>().Uint32Value();
  int fd = bpf_map_create(type, name.empty() ? nullptr : name.c_str(), info[2].As<Napi::Number>().Uint32Value(),
                          info[3].As<Napi::Number>().Uint32Value(), info[4].As<Napi::Number>().Uint32Value(), &opts);
  if (fd < 0) return ThrowErrno(env, errno, "BPF_MAP_CREATE " + name);
  return Napi::Number::New(env, fd);
}

bool BufArg(const Napi::CallbackInfo &info, size_t i, void **p) {
  if (info.Length() <= i) return false;
  if (info[i].IsNull() || info[i].IsUndefined()) {
    *p = nullptr;
    return true;
  }
  if (!info[i].IsBuffer()) return false;
  *p = info[i].As<Napi::Buffer<uint8_t>>().Data();
  return true;
}

// mapLookup(fd, key, valueOut) -> true, or false when the key is absent.
Napi::Value MapLookup(const Napi::CallbackInfo &info) {
  int fd;
  void *key, *value;
  if (!ArgFd(info, 0, &fd)) return info.Env().Undefined();
  if (!BufArg(info, 1, &key) || !BufArg(info, 2, &value) || !value) return ThrowCode(info.Env(), "EINVAL", "mapLookup(fd, key, value)");
  if (bpf_map_lookup_elem(fd, key, value) != 0) {
    if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
    return ThrowErrno(info.Env(), errno, "BPF_MAP_LOOKUP_ELEM");
  }
  return Napi::Boolean::New(info.Env(), true);
}

// mapUpdate(fd, key, value, flags)
Napi::Value MapUpdate(const Napi::CallbackInfo &info) {
  int fd;
  void *key, *value;
  if (!ArgFd(info, 0, &fd)) return info.Env().Undefined();
  if (!BufArg(info, 1, &key) || !BufArg(info, 2, &value) || !value || !info[3].IsNumber())
    return ThrowCode(info.Env(), "EINVAL", "mapUpdate(fd, key, value, flags)");
  if (bpf_map_update_elem(fd, key, value, info[3].As<Napi::Number>().Uint32Value()) != 0)
    return ThrowErrno(info.Env(), errno, "BPF_MAP_UPDATE_ELEM");
  return info.Env().Undefined();
}

// mapDelete(fd, key) -> true, or false when the key was absent.
Napi::Value MapDelete(const Napi::CallbackInfo &info) {
  int fd;
  void *key;
  if (!ArgFd(info, 0, &fd)) return info.Env().Undefined();
  if (!BufArg(info, 1, &key)) return ThrowCode(info.Env(), "EINVAL", "mapDelete(fd, key)");
  if (bpf_map_delete_elem(fd, key) != 0) {
    if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
    return ThrowErrno(info.Env(), errno, "BPF_MAP_DELETE_ELEM");
  }
  return Napi::Boolean::New(info.Env(), true);
}

// mapNextKey(fd, key|null, nextOut) -> true, or false after the last key.
Napi::Value MapNextKey(const Napi::CallbackInfo &info) {
  int fd;
  void *key, *next;
  if (!ArgFd(info, 0, &fd)) return info.Env().Undefined();
  if (!BufArg(info, 1, &key) || !BufArg(info, 2, &next) || !next) return ThrowCode(info.Env(), "EINVAL", "mapNextKey(fd, key, next)");
  if (bpf_map_get_next_key(fd, key, next) != 0) {
    if (errno == ENOENT) return Napi::Boolean::New(info.Env(), false);
    return ThrowErrno(info.Env(), errno, "BPF_MAP_GET_NEXT_KEY");
  }
  return Napi::Boolean::New(info.Env(), true);
}

// testRun(progFd, dataIn|null, opts) -> { retval, duration, dataOut? }
// opts: repeat, ctxIn (Buffer), dataOutSize, flags, cpu.
Napi::Value TestRun(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd;
  void *data;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  if (!BufArg(info, 1, &data) || info.Length() < 3 || !info[2].IsObject()) return ThrowCode(env, "EINVAL", "testRun(fd, data, opts)");
  Napi::Object o = info[2].As<Napi::Object>();
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  if (data) {
    opts.data_in = data;
    opts.data_size_in = info[1].As<Napi::Buffer<uint8_t>>().Length();
  }
  Napi::Value ctx = o.Get("ctxIn");
  if (ctx.IsBuffer()) {
    opts.ctx_in = ctx.As<Napi::Buffer<uint8_t>>().Data();
    opts.ctx_size_in = ctx.As<Napi::Buffer<uint8_t>>().Length();
  }
  std::vector<uint8_t> out(U32(o, "dataOutSize"));
  if (!out.empty()) {
    opts.data_out = out.data();
    opts.data_size_out = out.size();
  }
  opts.repeat = U32(o, "repeat");
  opts.flags = U32(o, "flags");
  opts.cpu = U32(o, "cpu");
  if (bpf_prog_test_run_opts(fd, &opts) != 0) return ThrowErrno(env, errno, "BPF_PROG_TEST_RUN");
  Napi::Object r = Napi::Object::New(env);
  r.Set("retval", Napi::Number::New(env, opts.retval));
  r.Set("duration", Napi::Number::New(env, opts.duration));
  if (!out.empty()) r.Set("dataOut", Napi::Buffer<uint8_t>::Copy(env, out.data(), opts.data_size_out));
  return r;
}

// address(buffer) -> BigInt: where a Buffer's bytes are, for a program run
// synchronously by testRun that copies them with bpf_copy_from_user (the
// caller keeps the Buffer alive for the run).
Napi::Value Address(const Napi::CallbackInfo &info) {
  if (info.Length() < 1 || !info[0].IsBuffer()) return ThrowCode(info.Env(), "EINVAL", "address(buffer)");
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(buf.Data())));
}

// linkCreate(progFd, target, attachType, opts) -> link fd. target is an fd
// (perf event, cgroup) or an ifindex (XDP, tcx). opts: flags, cookie, targetBtfId.
Napi::Value LinkCreate(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int prog;
  if (!ArgFd(info, 0, &prog)) return env.Undefined();
  if (info.Length() < 4 || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsObject())
    return ThrowCode(env, "EINVAL", "linkCreate(progFd, target, attachType, opts)");
  Napi::Object o = info[3].As<Napi::Object>();
  auto type = static_cast<enum bpf_attach_type>(info[2].As<Napi::Number>().Uint32Value());
  LIBBPF_OPTS(bpf_link_create_opts, opts);
  opts.flags = U32(o, "flags");
  opts.target_btf_id = U32(o, "targetBtfId");
  if (type == BPF_PERF_EVENT) opts.perf_event.bpf_cookie = ToU64(o.Get("cookie"));
  int fd = bpf_link_create(prog, info[1].As<Napi::Number>().Int32Value(), type, &opts);
  if (fd < 0) return ThrowErrno(env, errno, "BPF_LINK_CREATE");
  return Napi::Number::New(env, fd);
}

// rawTracepointOpen(name|null, progFd) -> fd (raw_tp by name, or tp_btf/fentry
// whose target was fixed at load time when name is null).
Napi::Value RawTracepointOpen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int prog;
  if (!ArgFd(info, 1, &prog)) return env.Undefined();
  std::string name;
  bool has = info[0].IsString();
  if (has) name = info[0].As<Napi::String>();
  int fd = bpf_raw_tracepoint_open(has ? name.c_str() : nullptr, prog);
  if (fd < 0) return ThrowErrno(env, errno, "BPF_RAW_TRACEPOINT_OPEN");
  return Napi::Number::New(env, fd);
}

void TcHook(const Napi::CallbackInfo &info, struct bpf_tc_hook *hook) {
  hook->ifindex = info[0].As<Napi::Number>().Int32Value();
  hook->attach_point = info[1].As<Napi::Number>().Uint32Value() == 1 ? BPF_TC_EGRESS : BPF_TC_INGRESS;
}

// tcAttach(ifindex, egress(0|1), progFd[, priority]) -> { handle, priority, createdQdisc }:
// classic cls_bpf in direct-action mode on the clsact qdisc (created when
// missing; createdQdisc says whether this call did). Priority 0 or absent:
// the kernel picks one below the lowest in use, so the filter runs first.
// Used only on kernels without tcx.
Napi::Value TcAttach(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber())
    return ThrowCode(env, "EINVAL", "tcAttach(ifindex, egress, progFd[, priority])");
  LIBBPF_OPTS(bpf_tc_hook, hook);
  TcHook(info, &hook);
  int err = bpf_tc_hook_create(&hook);
  if (err && err != -EEXIST) return ThrowErrno(env, err, "tc qdisc clsact");
  bool created = err == 0;
  LIBBPF_OPTS(bpf_tc_opts, opts);
  opts.prog_fd = info[2].As<Napi::Number>().Int32Value();
  opts.priority = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Uint32Value() : 0;
  err = bpf_tc_attach(&hook, &opts);
  if (err) {
    if (created) bpf_tc_hook_destroy(&hook);
    return ThrowErrno(env, err, "tc filter add bpf");
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("handle", Napi::Number::New(env, opts.handle));
  r.Set("priority", Napi::Number::New(env, opts.priority));
  r.Set("createdQdisc", Napi::Boolean::New(env, created));
  return r;
}

// tcPriorities(ifindex, egress) -> the priorities (tc "pref") of the tc
// filters on the device's clsact ingress or egress hook, in the order the
// kernel runs them (lowest first); empty without a clsact qdisc. One
// RTM_GETTFILTER dump on a NETLINK_ROUTE socket: libbpf can attach and detach
// filters but not list them.
Napi::Value TcPriorities(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) return ThrowCode(env, "EINVAL", "tcPriorities(ifindex, egress)");
  int sock = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (sock < 0) return ThrowErrno(env, errno, "socket(NETLINK_ROUTE)");
  struct {
    struct nlmsghdr n;
    struct tcmsg t;
  } req;
  memset(&req, 0, sizeof(req));
  req.n.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
  req.n.nlmsg_type = RTM_GETTFILTER;
  req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  req.n.nlmsg_seq = 1;
  req.t.tcm_family = AF_UNSPEC;
  req.t.tcm_ifindex = info[0].As<Napi::Number>().Int32Value();
  req.t.tcm_parent = TC_H_MAKE(TC_H_CLSACT, info[1].As<Napi::Number>().Uint32Value() == 1 ? TC_H_MIN_EGRESS : TC_H_MIN_INGRESS);
  if (send(sock, &req, req.n.nlmsg_len, 0) < 0) {
    int err = errno;
    close(sock);
    return ThrowErrno(env, err, "RTM_GETTFILTER");
  }
  std::vector<uint32_t> prios;
  std::vector<char> buf(1 << 16);
  for (bool done = false; !done;) {
    ssize_t n = recv(sock, buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(sock);
      return ThrowErrno(env, err, "RTM_GETTFILTER recv");
    }
    int left = static_cast<int>(n);
    for (struct nlmsghdr *h = reinterpret_cast<struct nlmsghdr *>(buf.data()); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        done = true;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        int err = reinterpret_cast<struct nlmsgerr *>(NLMSG_DATA(h))->error;
        close(sock);
        return ThrowErrno(env, err, "RTM_GETTFILTER");
      }
      if (h->nlmsg_type != RTM_NEWTFILTER) continue;
      uint32_t prio = TC_H_MAJ(reinterpret_cast<struct tcmsg *>(NLMSG_DATA(h))->tcm_info) >> 16;
      if (prios.empty() || prios.back() != prio) prios.push_back(prio);
    }
    if (n == 0) done = true;
  }
  close(sock);
  Napi::Array out = Napi::Array::New(env, prios.size());
  for (size_t i = 0; i < prios.size(); i++) out.Set(i, Napi::Number::New(env, prios[i]));
  return out;
}

// tcDeleteQdisc(ifindex): deletes the device's clsact qdisc, and with it
// every tc filter on its ingress and egress hooks (callers check both are
// empty first).
Napi::Value TcDeleteQdisc(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowCode(env, "EINVAL", "tcDeleteQdisc(ifindex)");
  LIBBPF_OPTS(bpf_tc_hook, hook);
  hook.ifindex = info[0].As<Napi::Number>().Int32Value();
  hook.attach_point = static_cast<enum bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
  int err = bpf_tc_hook_destroy(&hook);
  if (err) return ThrowErrno(env, err, "tc qdisc del clsact");
  return env.Undefined();
}

// tcDetach(ifindex, egress, handle, priority)
Napi::Value TcDetach(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4) return ThrowCode(env, "EINVAL", "tcDetach(ifindex, egress, handle, priority)");
  LIBBPF_OPTS(bpf_tc_hook, hook);
  TcHook(info, &hook);
  LIBBPF_OPTS(bpf_tc_opts, opts);
  opts.handle = info[2].As<Napi::Number>().Uint32Value();
  opts.priority = info[3].As<Napi::Number>().Uint32Value();
  int err = bpf_tc_detach(&hook, &opts);
  if (err) return ThrowErrno(env, err, "tc filter del bpf");
  return env.Undefined();
}

// progInfo(fd) -> { id, type, name, xlatedLen, jitedLen }
Napi::Value ProgInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  struct bpf_prog_info pi;
  memset(&pi, 0, sizeof(pi));
  __u32 len = sizeof(pi);
  if (bpf_obj_get_info_by_fd(fd, &pi, &len) != 0) return ThrowErrno(env, errno, "BPF_OBJ_GET_INFO_BY_FD");
  Napi::Object r = Napi::Object::New(env);
  r.Set("id", Napi::Number::New(env, pi.id));
  r.Set("type", Napi::Number::New(env, pi.type));
  r.Set("name", Napi::String::New(env, pi.name));
  r.Set("xlatedLen", Napi::Number::New(env, pi.xlated_prog_len));
  r.Set("jitedLen", Napi::Number::New(env, pi.jited_prog_len));
  return r;
}

// linkInfo(fd) -> { id, type, progId }
Napi::Value LinkInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  struct bpf_link_info li;
  memset(&li, 0, sizeof(li));
  __u32 len = sizeof(li);
  if (bpf_obj_get_info_by_fd(fd, &li, &len) != 0) return ThrowErrno(env, errno, "BPF_OBJ_GET_INFO_BY_FD");
  Napi::Object r = Napi::Object::New(env);
  r.Set("id", Napi::Number::New(env, li.id));
  r.Set("type", Napi::Number::New(env, li.type));
  r.Set("progId", Napi::Number::New(env, li.prog_id));
  return r;
}

// objPin(fd, path): BPF_OBJ_PIN, a name in bpffs that keeps the object alive
// after its last fd closes (the XDP example pins its hook map and link).
Napi::Value ObjPin(const Napi::CallbackInfo &info) {
  int fd;
  if (!ArgFd(info, 0, &fd)) return info.Env().Undefined();
  if (info.Length() < 2 || !info[1].IsString()) return ThrowCode(info.Env(), "EINVAL", "objPin(fd, path)");
  std::string path = info[1].As<Napi::String>();
  if (bpf_obj_pin(fd, path.c_str()) != 0) return ThrowErrno(info.Env(), errno, "BPF_OBJ_PIN " + path);
  return info.Env().Undefined();
}

// objGet(path) -> fd of the pinned map, program or link (BPF_OBJ_GET).
Napi::Value ObjGet(const Napi::CallbackInfo &info) {
  if (info.Length() < 1 || !info[0].IsString()) return ThrowCode(info.Env(), "EINVAL", "objGet(path)");
  std::string path = info[0].As<Napi::String>();
  int fd = bpf_obj_get(path.c_str());
  if (fd < 0) return ThrowErrno(info.Env(), errno, "BPF_OBJ_GET " + path);
  return Napi::Number::New(info.Env(), fd);
}

// mapInfo(fd) -> { id, type, keySize, valueSize, maxEntries, flags, name }
Napi::Value MapInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  struct bpf_map_info mi;
  memset(&mi, 0, sizeof(mi));
  __u32 len = sizeof(mi);
  if (bpf_obj_get_info_by_fd(fd, &mi, &len) != 0) return ThrowErrno(env, errno, "BPF_OBJ_GET_INFO_BY_FD");
  Napi::Object r = Napi::Object::New(env);
  r.Set("id", Napi::Number::New(env, mi.id));
  r.Set("type", Napi::Number::New(env, mi.type));
  r.Set("keySize", Napi::Number::New(env, mi.key_size));
  r.Set("valueSize", Napi::Number::New(env, mi.value_size));
  r.Set("maxEntries", Napi::Number::New(env, mi.max_entries));
  r.Set("flags", Napi::Number::New(env, mi.map_flags));
  r.Set("name", Napi::String::New(env, mi.name));
  return r;
}

// progGetFdById(id) -> fd (BPF_PROG_GET_FD_BY_ID: a prog array lookup gives ids).
Napi::Value ProgGetFdById(const Napi::CallbackInfo &info) {
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowCode(info.Env(), "EINVAL", "progGetFdById(id)");
  int fd = bpf_prog_get_fd_by_id(info[0].As<Napi::Number>().Uint32Value());
  if (fd < 0) return ThrowErrno(info.Env(), errno, "BPF_PROG_GET_FD_BY_ID");
  return Napi::Number::New(info.Env(), fd);
}

// progFuncInfo(fd) -> { btfId, funcTypeIds }: the program's BTF object and
// the BTF type id of each of its functions (the first is the entry point,
// what an fentry/fexit program on it names as attach_btf_id).
Napi::Value ProgFuncInfo(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  struct bpf_prog_info pi;
  memset(&pi, 0, sizeof(pi));
  __u32 len = sizeof(pi);
  if (bpf_obj_get_info_by_fd(fd, &pi, &len) != 0) return ThrowErrno(env, errno, "BPF_OBJ_GET_INFO_BY_FD");
  __u32 count = pi.nr_func_info;
  __u32 recSize = pi.func_info_rec_size;
  std::vector<uint8_t> recs(static_cast<size_t>(count) * (recSize ? recSize : sizeof(struct bpf_func_info)));
  if (count > 0) {
    __u32 btfId = pi.btf_id;
    memset(&pi, 0, sizeof(pi));
    pi.nr_func_info = count;
    pi.func_info_rec_size = recSize;
    pi.func_info = reinterpret_cast<__u64>(recs.data());
    len = sizeof(pi);
    if (bpf_obj_get_info_by_fd(fd, &pi, &len) != 0) return ThrowErrno(env, errno, "BPF_OBJ_GET_INFO_BY_FD func_info");
    pi.btf_id = btfId;
  }
  Napi::Object r = Napi::Object::New(env);
  r.Set("btfId", Napi::Number::New(env, pi.btf_id));
  Napi::Array ids = Napi::Array::New(env, count);
  for (__u32 i = 0; i < count; i++) {
    struct bpf_func_info fi;
    memcpy(&fi, recs.data() + static_cast<size_t>(i) * recSize, sizeof(fi));
    ids.Set(i, Napi::Number::New(env, fi.type_id));
  }
  r.Set("funcTypeIds", ids);
  return r;
}

// close(fd): closing a link or program fd detaches it (nothing is pinned).
Napi::Value Close(const Napi::CallbackInfo &info) {
  int fd;
  if (!ArgFd(info, 0, &fd)) return info.Env().Undefined();
  if (close(fd) != 0) return ThrowErrno(info.Env(), errno, "close");
  return info.Env().Undefined();
}

Napi::Value NumPossibleCpus(const Napi::CallbackInfo &info) {
  int n = libbpf_num_possible_cpus();
  if (n < 0) return ThrowErrno(info.Env(), n, "libbpf_num_possible_cpus");
  return Napi::Number::New(info.Env(), n);
}

}  // namespace

void InitBpf(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("progLoad", Napi::Function::New(env, ProgLoad));
  o.Set("mapCreate", Napi::Function::New(env, MapCreate));
  o.Set("mapLookup", Napi::Function::New(env, MapLookup));
  o.Set("mapUpdate", Napi::Function::New(env, MapUpdate));
  o.Set("mapDelete", Napi::Function::New(env, MapDelete));
  o.Set("mapNextKey", Napi::Function::New(env, MapNextKey));
  o.Set("testRun", Napi::Function::New(env, TestRun));
  o.Set("address", Napi::Function::New(env, Address));
  o.Set("linkCreate", Napi::Function::New(env, LinkCreate));
  o.Set("rawTracepointOpen", Napi::Function::New(env, RawTracepointOpen));
  o.Set("tcAttach", Napi::Function::New(env, TcAttach));
  o.Set("tcDetach", Napi::Function::New(env, TcDetach));
  o.Set("tcDeleteQdisc", Napi::Function::New(env, TcDeleteQdisc));
  o.Set("tcPriorities", Napi::Function::New(env, TcPriorities));
  o.Set("progInfo", Napi::Function::New(env, ProgInfo));
  o.Set("linkInfo", Napi::Function::New(env, LinkInfo));
  o.Set("objPin", Napi::Function::New(env, ObjPin));
  o.Set("objGet", Napi::Function::New(env, ObjGet));
  o.Set("mapInfo", Napi::Function::New(env, MapInfo));
  o.Set("progGetFdById", Napi::Function::New(env, ProgGetFdById));
  o.Set("progFuncInfo", Napi::Function::New(env, ProgFuncInfo));
  o.Set("close", Napi::Function::New(env, Close));
  o.Set("numPossibleCpus", Napi::Function::New(env, NumPossibleCpus));
  exports.Set("bpf", o);
}

}  // namespace netcap
