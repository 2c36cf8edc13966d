// Sending frames out of an interface at chosen moments (netcap replay):
// an AF_PACKET socket opened inside the interface's network namespace, and a
// sender thread that sleeps until each frame's deadline and sends it.
//
// Why a thread of its own: Node's timers are millisecond-grained and its
// event loop pauses for garbage collection and file reads; the sender keeps
// a queue of frames, each due a number of ns after the anchor, and meets
// them whatever JavaScript is doing. The anchor is the moment the thread
// sends the first frame (CLOCK_MONOTONIC, the clock of process.hrtime), so
// however late JavaScript hands that frame over, every deadline is
// absolute and measured from it: nothing accumulates. It sleeps on
// a condition variable until `spin` ns before the deadline (timer slack set
// to 1 ns: the default 50 us would be added to every wake-up), then spins on
// the clock for the rest; the window follows how late it wakes (LearnWake).
// Measured on this 2-core VM under load: a plain absolute sleep wakes
// ~25-85 us late at the median and milliseconds late at the 99th
// percentile; a pure busy loop (tcpreplay's gtod timer) is preempted by
// the scheduler for milliseconds when the machine is busy; so the thread
// waits at real-time priority (see SetRealtime) and spins only the last
// stretch. A frame pushed with an earlier deadline than the queue's head (a
// streamed injection, due now) wakes the thread and goes first.
//
// ENOBUFS (a full device queue or backlog: veth_xmit returns NET_XMIT_DROP)
// is retried with a short backoff and counted, never dropped silently;
// EMSGSIZE (larger than the MTU) is counted apart; other errors are counted
// by errno name. JavaScript learns of progress through a thread-safe
// function call when the queue drains to its low-water mark or empties.
//
// Kept apart from pcap.cc and bpf.cc (libpcap and libbpf headers clash).
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "errors.h"

namespace netcap {
namespace {

// One iteration of a spin wait (PAUSE on x86: kinder to the other hyperthread).
inline void Relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

int64_t MonotonicNs() {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<int64_t>(t.tv_sec) * 1000000000LL + t.tv_nsec;
}

// Enters the network namespace at `path` for the calling thread and returns
// there on destruction (setns changes only the calling thread's namespace).
class NetnsGuard {
 public:
  int Enter(const std::string &path) {
    if (path.empty()) return 0;
    home_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home_ < 0) return errno;
    int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (target < 0) return errno;
    int r = setns(target, CLONE_NEWNET);
    int err = errno;
    close(target);
    return r == 0 ? 0 : err;
  }
  ~NetnsGuard() {
    if (home_ < 0) return;
    setns(home_, CLONE_NEWNET);
    close(home_);
  }

 private:
  int home_ = -1;
};

// open(netnsPath, ifname) -> { fd, ifindex, mtu, up, running, arphrd, mac }
// A SOCK_RAW AF_PACKET socket bound to the interface, protocol 0 (it
// receives nothing), created inside netnsPath ("" = ours). The socket keeps
// its namespace after the thread returns to ours.
Napi::Value Open(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) return ThrowCode(env, "EINVAL", "open(netnsPath, ifname)");
  std::string netns = info[0].As<Napi::String>();
  std::string ifname = info[1].As<Napi::String>();
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) return ThrowCode(env, "EINVAL", "bad interface name");
  NetnsGuard guard;
  if (int err = guard.Enter(netns)) return ThrowErrno(env, err, "setns " + netns);
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
  if (fd < 0) return ThrowErrno(env, errno, "socket(AF_PACKET)");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname.c_str(), IFNAMSIZ - 1);
  auto fail = [&](const char *what) {
    int err = errno;
    close(fd);
    return ThrowErrno(env, err, std::string(what) + " " + ifname);
  };
  if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) return fail("SIOCGIFINDEX");
  int ifindex = ifr.ifr_ifindex;
  if (ioctl(fd, SIOCGIFMTU, &ifr) < 0) return fail("SIOCGIFMTU");
  int mtu = ifr.ifr_mtu;
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) return fail("SIOCGIFFLAGS");
  int flags = ifr.ifr_flags;
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) return fail("SIOCGIFHWADDR");
  int arphrd = ifr.ifr_hwaddr.sa_family;
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = ifindex;
  sll.sll_protocol = 0;
  if (bind(fd, reinterpret_cast<struct sockaddr *>(&sll), sizeof sll) < 0) return fail("bind");
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", fd);
  out.Set("ifindex", ifindex);
  out.Set("mtu", mtu);
  out.Set("up", (flags & IFF_UP) != 0);
  out.Set("running", (flags & IFF_RUNNING) != 0);
  out.Set("arphrd", arphrd);
  out.Set("mac", Napi::Buffer<uint8_t>::Copy(env, reinterpret_cast<uint8_t *>(ifr.ifr_hwaddr.sa_data), 6));
  return out;
}

struct Frame {
  int64_t due;   // ns after the anchor
  uint64_t seq;  // push order: frames due together keep it
  std::vector<uint8_t> bytes;
};

struct Later {
  bool operator()(const Frame &a, const Frame &b) const { return a.due != b.due ? a.due > b.due : a.seq > b.seq; }
};

// Retrying one frame on ENOBUFS: 10 us doubling to 1 ms, for at most 2 s.
constexpr int64_t kRetryFirstNs = 10000;
constexpr int64_t kRetryMaxNs = 1000000;
constexpr int64_t kRetryBudgetNs = 2000000000;
// The sender thread's real-time priority (low among real-time ones: kernel
// threads and audio outrank it) and the longest it runs at that priority
// without sleeping.
constexpr int kRealtimePriority = 10;
constexpr int64_t kMaxRealtimeRunNs = 10000000;
// The spin window, when not fixed by the caller, follows how late the thread
// wakes: a maximum that decays by kWakeDecay per wake-up, plus a margin,
// within [kSpinMinNs, kSpinMaxNs]. On this VM an idle vCPU takes 50 us at
// the median and 200-700 us at the 99th percentile to run a thread whose
// timer fired, even at SCHED_FIFO (the host has to schedule the vCPU
// again); a busy loop never lets it go idle, which is what makes
// tcpreplay's precise when the machine is quiet. Bare metal wakes in a few
// us and keeps the window near its floor.
constexpr int64_t kSpinMinNs = 50000;
constexpr int64_t kSpinMaxNs = 2000000;
constexpr int64_t kSpinMarginNs = 20000;
constexpr double kWakeDecay = 0.999;

class Sender : public Napi::ObjectWrap<Sender> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Sender",
                       {InstanceMethod("push", &Sender::Push), InstanceMethod("stats", &Sender::Stats),
                        InstanceMethod("takeLateness", &Sender::TakeLateness), InstanceMethod("cancel", &Sender::Cancel),
                        InstanceMethod("close", &Sender::Close)});
  }

  // new Sender(fd, onWake(), { spinNs, lowWater, realtime })
  explicit Sender(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Sender>(info) {
    Napi::Env env = info.Env();
    if (!ArgFd(info, 0, &fd_)) return;
    if (info.Length() < 2 || !info[1].IsFunction()) {
      ThrowCode(env, "EINVAL", "new Sender(fd, onWake, options)");
      return;
    }
    if (info.Length() > 2 && info[2].IsObject()) {
      Napi::Object o = info[2].As<Napi::Object>();
      if (o.Get("spinNs").IsNumber() && o.Get("spinNs").As<Napi::Number>().Int64Value() > 0) {
        spin_ns_ = o.Get("spinNs").As<Napi::Number>().Int64Value();
        spin_fixed_ = true;
      }
      if (o.Get("lowWater").IsNumber()) low_water_ = o.Get("lowWater").As<Napi::Number>().Int64Value();
      if (o.Get("realtime").IsBoolean()) realtime_wanted_ = o.Get("realtime").As<Napi::Boolean>().Value();
    }
    wake_ = Napi::ThreadSafeFunction::New(env, info[1].As<Napi::Function>(), "netcap:sender", 0, 1);
    thread_ = std::thread([this] { Run(); });
    started_ = true;
    // Stop the thread when the environment goes away (process or worker
    // exit without close()): a joinable std::thread must never be destroyed.
    napi_add_env_cleanup_hook(env, &Sender::OnEnvCleanup, this);
    cleanup_hook_ = true;
  }

  ~Sender() override {
    if (cleanup_hook_) napi_remove_env_cleanup_hook(Env(), &Sender::OnEnvCleanup, this);
    Shutdown();
  }

 private:
  static void OnEnvCleanup(void *arg) {
    auto *self = static_cast<Sender *>(arg);
    self->cleanup_hook_ = false;
    self->Shutdown();
  }

  // push(data: Buffer, ends: Uint32Array, dueNs: Float64Array) -> frames queued
  // Frame i is data[ends[i-1], ends[i]) and is due dueNs[i] ns after the anchor.
  Napi::Value Push(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsBuffer() || !info[1].IsTypedArray() || !info[2].IsTypedArray())
      return ThrowCode(env, "EINVAL", "push(data, ends, dueNs)");
    auto data = info[0].As<Napi::Buffer<uint8_t>>();
    auto ends = info[1].As<Napi::Uint32Array>();
    auto offsets = info[2].As<Napi::Float64Array>();
    if (ends.ElementLength() != offsets.ElementLength()) return ThrowCode(env, "EINVAL", "push: ends and dueNs differ in length");
    // Copied outside the lock: the sender thread takes it for every frame.
    std::vector<Frame> frames;
    frames.reserve(ends.ElementLength());
    size_t start = 0;
    for (size_t i = 0; i < ends.ElementLength(); i++) {
      size_t end = ends[i];
      if (end < start || end > data.Length()) return ThrowCode(env, "EINVAL", "push: bad frame end");
      frames.push_back(Frame{static_cast<int64_t>(offsets[i]), 0, std::vector<uint8_t>(data.Data() + start, data.Data() + end)});
      start = end;
    }
    size_t queued;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!running_) return ThrowCode(env, "ECLOSED", "the sender is closed");
      int64_t head = queue_.empty() ? INT64_MAX : queue_.top().due;
      bool earlier = false;
      for (Frame &f : frames) {
        f.seq = seq_++;
        if (f.due < head) earlier = true;
        queue_.push(std::move(f));
      }
      queued = queue_.size();
      low_signalled_ = queued <= static_cast<size_t>(low_water_);
      empty_signalled_ = false;
      if (earlier) cv_.notify_one();
    }
    return Napi::Number::New(env, static_cast<double>(queued));
  }

  // stats() -> counters so far, and the frames still queued
  Napi::Value Stats(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::lock_guard<std::mutex> lock(mu_);
    Napi::Object o = Napi::Object::New(env);
    o.Set("queued", static_cast<double>(queue_.size()));
    o.Set("sending", sending_);
    o.Set("sent", static_cast<double>(sent_));
    o.Set("bytes", static_cast<double>(bytes_));
    o.Set("retried", static_cast<double>(retried_));
    o.Set("tooBig", static_cast<double>(too_big_));
    o.Set("failed", static_cast<double>(failed_));
    o.Set("cancelled", static_cast<double>(cancelled_));
    o.Set("realtime", realtime_ok_);
    o.Set("spinNs", static_cast<double>(spin_ns_));
    o.Set("anchorNs", Napi::BigInt::New(env, static_cast<uint64_t>(anchor_)));
    Napi::Object errors = Napi::Object::New(env);
    for (auto &[err, n] : errors_) {
      const char *name = strerrorname_np(err);
      errors.Set(name ? name : std::to_string(err).c_str(), static_cast<double>(n));
    }
    o.Set("errors", errors);
    return o;
  }

  // takeLateness() -> Float64Array: ns each frame sent since the last call went out after its deadline
  Napi::Value TakeLateness(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    std::vector<double> taken;
    {
      std::lock_guard<std::mutex> lock(mu_);
      taken.swap(lateness_);
    }
    Napi::Float64Array out = Napi::Float64Array::New(env, taken.size());
    if (!taken.empty()) memcpy(out.Data(), taken.data(), taken.size() * sizeof(double));
    return out;
  }

  // cancel() -> frames dropped from the queue (a stop: what has not gone out stays out)
  Napi::Value Cancel(const Napi::CallbackInfo &info) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = queue_.size();
    cancelled_ += n;
    while (!queue_.empty()) queue_.pop();
    cv_.notify_one();
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  }

  // close(): cancels what is queued, joins the thread, closes the socket. Idempotent.
  Napi::Value Close(const Napi::CallbackInfo &info) {
    Shutdown();
    return info.Env().Undefined();
  }

  void Shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!running_) return;
      running_ = false;
      cancelled_ += queue_.size();
      while (!queue_.empty()) queue_.pop();
      cv_.notify_one();
    }
    if (started_) {  // not when the constructor refused its arguments
      thread_.join();
      wake_.Release();
    }
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

  void Signal() {
    // Non-blocking: the thread never waits for JavaScript.
    wake_.NonBlockingCall();
  }

  // SCHED_FIFO while the thread waits for deadlines, so that it runs the
  // moment its timer fires even on a busy machine (measured here under a
  // load of 7 on 2 cores: p99 wake-up 15 ms at normal priority). It never
  // keeps the CPU at that priority for long: after kMaxRealtimeRunNs without
  // sleeping it sleeps before the next frame whenever that frame is more
  // than kSpinMinNs away, and when frames are due back to back (a burst, top
  // speed) it drops to SCHED_OTHER until it sleeps again. (Dropping while
  // it merely spins is worse than useless: a spinning SCHED_OTHER thread on
  // a busy machine is preempted for hundreds of ms, measured here at -x 4.)
  // Without the privilege (not root) it stays at normal priority.
  void SetRealtime(bool on) {
    if (!realtime_wanted_ || on == realtime_now_) return;
    struct sched_param p = {};
    p.sched_priority = on ? kRealtimePriority : 0;
    if (pthread_setschedparam(pthread_self(), on ? SCHED_FIFO : SCHED_OTHER, &p) == 0) realtime_now_ = on;
    else if (on) realtime_wanted_ = false;  // not permitted: stay normal, and stop trying
  }

  void Run() {
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    std::unique_lock<std::mutex> lock(mu_);
    SetRealtime(true);
    realtime_ok_ = realtime_now_;
    int64_t running_since = MonotonicNs();
    while (running_) {
      if (queue_.empty()) {
        if (!empty_signalled_) {
          empty_signalled_ = true;
          Signal();
        }
        SetRealtime(true);
        cv_.wait(lock);
        running_since = MonotonicNs();
        continue;
      }
      int64_t now = MonotonicNs();
      if (anchor_ == 0) anchor_ = now - queue_.top().due;  // the first frame goes now
      int64_t deadline = anchor_ + queue_.top().due;
      // After kMaxRealtimeRunNs without a sleep (short gaps, each spun
      // through) the thread sleeps at the next chance it has, however short.
      bool long_run = now - running_since > kMaxRealtimeRunNs;
      int64_t wake_at = deadline - (long_run ? kSpinMinNs : spin_ns_);
      if (now < wake_at) {
        // Re-examined on every wake: a frame pushed meanwhile may be due sooner.
        SetRealtime(true);
        cv_.wait_until(lock, std::chrono::steady_clock::time_point(std::chrono::nanoseconds(wake_at)));
        running_since = MonotonicNs();
        if (running_since >= wake_at) LearnWake(running_since - wake_at);  // not an early wake by a push
        continue;
      }
      if (long_run) SetRealtime(false);  // frames due back to back: a burst, top speed
      Frame f = std::move(const_cast<Frame &>(queue_.top()));
      queue_.pop();
      sending_ = true;
      if (!low_signalled_ && queue_.size() <= static_cast<size_t>(low_water_)) {
        low_signalled_ = true;
        Signal();
      }
      lock.unlock();
      while (MonotonicNs() < deadline) Relax();
      Outcome outcome = SendOne(f.bytes);
      lock.lock();
      sending_ = false;
      Count(outcome, f.bytes.size(), deadline);
    }
  }

  void LearnWake(int64_t late_ns) {
    wake_late_ns_ = std::max(static_cast<double>(late_ns), wake_late_ns_ * kWakeDecay);
    if (!spin_fixed_) spin_ns_ = std::clamp(static_cast<int64_t>(wake_late_ns_) + kSpinMarginNs, kSpinMinNs, kSpinMaxNs);
  }

  struct Outcome {
    int64_t sent_at;  // 0: not sent
    int err;          // when not sent
    uint64_t retries;
  };

  // Sends one frame, retrying ENOBUFS; called without the lock (the caller
  // counts the outcome under it).
  Outcome SendOne(const std::vector<uint8_t> &bytes) {
    int64_t first_try = 0;
    int64_t backoff = kRetryFirstNs;
    uint64_t retries = 0;
    for (;;) {
      int64_t before = MonotonicNs();
      if (send(fd_, bytes.data(), bytes.size(), 0) >= 0) return {before, 0, retries};
      int err = errno;
      if (err == EINTR) continue;
      if (err == ENOBUFS || err == EAGAIN) {
        if (first_try == 0) first_try = before;
        if (before - first_try < kRetryBudgetNs) {
          retries++;
          struct timespec ts = {0, static_cast<long>(backoff)};
          nanosleep(&ts, nullptr);
          backoff = std::min(backoff * 2, kRetryMaxNs);
          continue;
        }
      }
      return {0, err, retries};
    }
  }

  void Count(const Outcome &o, size_t bytes, int64_t deadline) {
    retried_ += o.retries;
    if (o.sent_at > 0) {
      sent_++;
      bytes_ += bytes;
      lateness_.push_back(static_cast<double>(o.sent_at - deadline));
    } else if (o.err == EMSGSIZE) {
      too_big_++;
    } else {
      failed_++;
      errors_[o.err]++;
    }
  }

  int fd_ = -1;
  int64_t spin_ns_ = 200000;  // until the first wake-ups are measured
  bool spin_fixed_ = false;
  double wake_late_ns_ = 0;
  int64_t anchor_ = 0;  // CLOCK_MONOTONIC ns of due 0; set when the first frame goes out
  int64_t low_water_ = 1024;
  Napi::ThreadSafeFunction wake_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Frame, std::vector<Frame>, Later> queue_;
  std::vector<double> lateness_;
  std::map<int, uint64_t> errors_;
  uint64_t seq_ = 0, sent_ = 0, bytes_ = 0, retried_ = 0, too_big_ = 0, failed_ = 0, cancelled_ = 0;
  bool running_ = true, sending_ = false, low_signalled_ = false, empty_signalled_ = false, cleanup_hook_ = false, started_ = false;
  // Asked for (option realtime), in effect now, and obtained at the start.
  bool realtime_wanted_ = true, realtime_now_ = false, realtime_ok_ = false;
};

}  // namespace

void InitPacket(Napi::Env env, Napi::Object exports) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("open", Napi::Function::New(env, Open));
  o.Set("Sender", Sender::Define(env));
  exports.Set("packet", o);
}

}  // namespace netcap
