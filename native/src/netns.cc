// Network namespaces: run a function with the calling thread in another
// network namespace, the interfaces of the calling thread's namespace, and a
// socket that tells when a namespace's links change. A BPF link to a device (tcx, XDP) and a tc filter name
// the device by ifindex, which the kernel resolves in the caller's namespace;
// setns(CLONE_NEWNET) changes only the calling thread, and the thread always
// comes back before this returns (or the process aborts: going on in the
// wrong namespace would attach to the wrong devices).
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "errors.h"

namespace netcap {
namespace {

// run(netnsFd, fn) -> fn's result, computed with this thread in the namespace
// netnsFd refers to. An exception thrown by fn propagates after the return.
Napi::Value Run(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  int target;
  if (!ArgFd(info, 0, &target)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsFunction()) return ThrowCode(env, "EINVAL", "run(netnsFd, fn)");
  int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return ThrowErrno(env, errno, "open /proc/thread-self/ns/net");
  if (setns(target, CLONE_NEWNET) != 0) {
    int err = errno;
    close(home);
    return ThrowErrno(env, err, "setns(CLONE_NEWNET)");
  }
  Napi::Value result = info[1].As<Napi::Function>().Call({});
  if (setns(home, CLONE_NEWNET) != 0) {
    fprintf(stderr, "netcap: cannot return to its own network namespace (setns: %s); aborting\n", strerror(errno));
    abort();
  }
  close(home);
  return result;
}

// interfaces() -> { links: [{ name, ifindex, flags, hatype }], inet: [{ label,
// prefixlen }] }: getifaddrs(3) of the calling thread's namespace (glibc asks
// the kernel over netlink, as iproute2 does), without running a process.
// links: one per device (its AF_PACKET entry: IFF_* flags, ARPHRD_* type);
// inet: each IPv4 address by its label (the device's name, or an alias).
Napi::Value Interfaces(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  struct ifaddrs *all;
  if (getifaddrs(&all) != 0) return ThrowErrno(env, errno, "getifaddrs");
  Napi::Array links = Napi::Array::New(env);
  Napi::Array inet = Napi::Array::New(env);
  for (struct ifaddrs *a = all; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_name == nullptr) continue;
    if (a->ifa_addr->sa_family == AF_PACKET) {
      const struct sockaddr_ll *ll = reinterpret_cast<const struct sockaddr_ll *>(a->ifa_addr);
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", a->ifa_name);
      o.Set("ifindex", ll->sll_ifindex);
      o.Set("flags", a->ifa_flags);
      o.Set("hatype", ll->sll_hatype);
      links.Set(links.Length(), o);
    } else if (a->ifa_addr->sa_family == AF_INET && a->ifa_netmask != nullptr) {
      uint32_t mask = ntohl(reinterpret_cast<const struct sockaddr_in *>(a->ifa_netmask)->sin_addr.s_addr);
      Napi::Object o = Napi::Object::New(env);
      o.Set("label", a->ifa_name);
      o.Set("prefixlen", __builtin_popcount(mask));
      inet.Set(inet.Length(), o);
    }
  }
  freeifaddrs(all);
  Napi::Object result = Napi::Object::New(env);
  result.Set("links", links);
  result.Set("inet", inet);
  return result;
}

// linkEvents() -> fd: a non-blocking NETLINK_ROUTE socket subscribed to link
// changes (RTMGRP_LINK: links added, removed, renamed, up or down) in the
// calling thread's namespace (make it inside run() for another namespace).
Napi::Value LinkEvents(const Napi::CallbackInfo &info) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return ThrowErrno(info.Env(), errno, "socket(NETLINK_ROUTE)");
  struct sockaddr_nl addr;
  memset(&addr, 0, sizeof(addr));
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = RTMGRP_LINK;
  if (bind(fd, reinterpret_cast<struct sockaddr *>(&addr), sizeof(addr)) != 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(info.Env(), err, "bind(RTMGRP_LINK)");
  }
  return Napi::Number::New(info.Env(), fd);
}

// linkEventsPending(fd) -> how many notifications waited (read and
// discarded); an overrun (ENOBUFS: some were lost) counts as one.
Napi::Value LinkEventsPending(const Napi::CallbackInfo &info) {
  int fd;
  if (!ArgFd(info, 0, &fd)) return info.Env().Undefined();
  std::vector<char> buf(1 << 16);
  uint32_t count = 0;
  for (;;) {
    ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n > 0) {
      count++;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOBUFS) {
      count++;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return ThrowErrno(info.Env(), errno, "recv(RTMGRP_LINK)");
    break;
  }
  return Napi::Number::New(info.Env(), count);
}

}  // namespace

void InitNetns(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("run", Napi::Function::New(env, Run));
  o.Set("interfaces", Napi::Function::New(env, Interfaces));
  o.Set("linkEvents", Napi::Function::New(env, LinkEvents));
  o.Set("linkEventsPending", Napi::Function::New(env, LinkEventsPending));
  exports.Set("netns", o);
}

}  // namespace netcap
