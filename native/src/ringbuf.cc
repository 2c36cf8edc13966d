// A BPF ring buffer read in place from Node's event loop. The addon maps
// the ring itself, as the kernel lays it out (kernel/bpf/ringbuf.c,
// include/uapi/linux/bpf.h):
//   - page 0, read-write: the consumer position, which only we write;
//   - page 1, read-only: the producer position, which the kernel writes;
//   - then the data, read-only, and after it the data's start again, so
//     that a record that wraps past the end of the ring is contiguous in
//     memory. The kernel maps the whole ring twice if asked (libbpf does);
//     given the longest record (maxRecordBytes), we map only that much of
//     it again, since a batch ends with the record that crosses the end:
//     for netcap's default 8 MiB ring, 8 MiB less of the process's RSS
//     (the same pages, counted once more per mapping).
// Each record starts with an 8-byte header: its length, with a busy bit
// (the producer has reserved it and not yet committed) and a discard bit,
// and records are padded to 8 bytes.
//
// A wakeup hands JavaScript one batch: the committed records from the
// consumer position on, up to the end of the ring, as start and end offsets
// into one ArrayBuffer over the mapped data (made once; nothing is copied),
// in order and increasing, one run of bytes. The
// consumer position is stored (with release semantics, after the
// producer's position and each header were loaded with acquire semantics)
// only when the batch callback has returned: until then the kernel cannot
// reuse the batch's bytes, and after it JavaScript must not read them.
// libbpf's ring_buffer copies nothing either but hands out one record per
// callback; one call per batch is what makes this cheap from JavaScript
// (the copy the previous reader made into a staging buffer cost more than
// JavaScript's look at each record).
//
// The data is read-only memory: writing into the batch's buffer is a fault.
// close() detaches that ArrayBuffer, so a view kept past close() reads as
// empty instead of reaching unmapped memory, and unmaps the ring at once
// (its pages, and the map, would otherwise live until V8 collects the
// ArrayBuffer). A reader that is collected without close() leaves the
// mapping to the ArrayBuffer's finalizer, since views of it may be alive.
//
// A batch stops at maxBatchBytes of record bytes (default 1 MiB) so it
// stays in cache and a busy producer can't keep one wakeup going forever;
// the ring's poll is level-triggered (ringbuf_map_poll), so libuv calls
// again for the rest after other I/O had its turn (consumeBatch() reads one
// batch the same way and says whether more waits). consume() drains
// everything, batch after batch, unless a batch's consumer pauses the
// reader: pause() stops the polling and the drain after that batch, so what
// a consumer that is behind holds is bounded by its own bound, not by the
// ring (the rest waits there, and the producer counts what does not fit).
#include <bpf/bpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "errors.h"

namespace netcap {
namespace {

// The data mapping, shared by the reader and its ArrayBuffer's finalizer:
// whichever unmaps it first clears `base`, whichever lets go last frees it.
struct Mapping {
  void *base;
  size_t length;
  bool reader_gone = false;
  bool finalized = false;

  void Unmap() {
    if (base) munmap(base, length);
    base = nullptr;
  }
};

void FinalizeData(Napi::Env, void *, Mapping *m) {
  m->Unmap();
  if (m->reader_gone) delete m;
  else m->finalized = true;
}

class RingBuffer : public Napi::ObjectWrap<RingBuffer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RingBuffer",
                       {InstanceMethod("consume", &RingBuffer::Consume), InstanceMethod("consumeBatch", &RingBuffer::ConsumeBatch),
                        InstanceMethod("close", &RingBuffer::Close),
                        InstanceMethod("pause", &RingBuffer::Pause), InstanceMethod("resume", &RingBuffer::Resume),
                        InstanceMethod("ref", &RingBuffer::RefLoop), InstanceMethod("unref", &RingBuffer::UnrefLoop)});
  }

  // new RingBuffer(mapFd, onBatch(data: ArrayBuffer, starts: ArrayBuffer, ends: ArrayBuffer, count), maxBatchBytes?, maxRecordBytes?)
  explicit RingBuffer(const Napi::CallbackInfo &info) : Napi::ObjectWrap<RingBuffer>(info) {
    Napi::Env env = info.Env();
    int fd;
    if (!ArgFd(info, 0, &fd)) return;
    if (info.Length() < 2 || !info[1].IsFunction()) {
      ThrowCode(env, "EINVAL", "new RingBuffer(mapFd, onBatch)");
      return;
    }
    size_t max_record = 0;  // unknown: map the whole ring again
    if (info.Length() > 3 && info[3].IsNumber() && info[3].As<Napi::Number>().Int64Value() > 0)
      max_record = static_cast<size_t>(info[3].As<Napi::Number>().Int64Value());
    if (!Map(env, fd, max_record)) return;
    if (info.Length() > 2 && info[2].IsNumber() && info[2].As<Napi::Number>().Int64Value() > 0)
      max_batch_ = static_cast<size_t>(info[2].As<Napi::Number>().Int64Value());
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "netcap:ringbuf");
    // A descriptor of our own for libuv: it watches each fd once per loop,
    // and another reader may poll the same map.
    poll_fd_ = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (poll_fd_ < 0) {
      ThrowErrno(env, errno, "dup ring buffer fd");
      Shutdown(true);
      return;
    }
    uv_loop_t *loop;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    poll_->data = this;
    int err = uv_poll_init(loop, poll_, poll_fd_);
    if (err != 0) {
      delete poll_;
      poll_ = nullptr;
      ThrowCode(env, uv_err_name(err), std::string("uv_poll_init on the ring buffer: ") + uv_strerror(err));
      Shutdown(true);
      return;
    }
    uv_poll_start(poll_, UV_READABLE, &RingBuffer::OnReadable);
    Ref();  // stay alive while the poll handle can call us
    // Stop polling when the environment goes away (worker exit, process
    // exit). The hook must be removed when the object is collected first, or
    // it would run on freed memory at exit.
    napi_add_env_cleanup_hook(env, &RingBuffer::OnEnvCleanup, this);
    cleanup_hook_ = true;
  }

  ~RingBuffer() override {
    if (cleanup_hook_) napi_remove_env_cleanup_hook(Env(), &RingBuffer::OnEnvCleanup, this);
    Shutdown(false);
  }

 private:
  static constexpr uint32_t kBusy = BPF_RINGBUF_BUSY_BIT;
  static constexpr uint32_t kDiscard = BPF_RINGBUF_DISCARD_BIT;
  static constexpr size_t kHeader = BPF_RINGBUF_HDR_SZ;
  // How far ahead of the header it reads the walk asks for the ring's
  // memory. Without it the walk waits on a cache miss at nearly every
  // header (perf: 88% of its time on that one load; the hardware
  // prefetcher stops at each 4 KiB page): draining a full ring of 72-byte
  // records, 15-18 ns a record, against 7-9 ns with the lines requested
  // 2 KiB ahead (512 B to 8 KiB measured; 2 KiB was fastest).
  static constexpr uint64_t kPrefetchAhead = 2048;

  // Maps the ring's pages (see the top) and makes the data's ArrayBuffer;
  // `max_record`, when not 0, bounds a record's bytes (its header apart).
  bool Map(Napi::Env env, int fd, size_t max_record) {
    struct bpf_map_info map_info;
    memset(&map_info, 0, sizeof(map_info));
    __u32 len = sizeof(map_info);
    if (bpf_obj_get_info_by_fd(fd, &map_info, &len) != 0) {
      ThrowErrno(env, errno, "ring buffer map info");
      return false;
    }
    if (map_info.type != BPF_MAP_TYPE_RINGBUF) {
      ThrowCode(env, "EINVAL", "new RingBuffer: the map is not a ring buffer");
      return false;
    }
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    size_ = map_info.max_entries;  // a power of 2, a multiple of the page size
    // Record offsets are 32-bit, into the ring and the tail mapped after it.
    if (size_ > (size_t{1} << 30)) {
      ThrowCode(env, "EINVAL", "new RingBuffer: rings above 1 GiB are not read");
      return false;
    }
    void *consumer = mmap(nullptr, page_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (consumer == MAP_FAILED) {
      ThrowErrno(env, errno, "mmap ring buffer consumer page");
      return false;
    }
    consumer_ = static_cast<uint64_t *>(consumer);
    // The data, then enough of its start again for the longest record's header and bytes.
    tail_ = max_record ? std::min(size_, (max_record + kHeader + page_ - 1) / page_ * page_) : size_;
    size_t length = page_ + size_ + tail_;
    void *base = mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(page_));
    if (base == MAP_FAILED) {
      ThrowErrno(env, errno, "mmap ring buffer data");
      Shutdown(true);
      return false;
    }
    producer_ = static_cast<const uint64_t *>(base);
    data_ = static_cast<const uint8_t *>(base) + page_;
    mapping_ = new Mapping{base, length};
    Napi::ArrayBuffer data = Napi::ArrayBuffer::New(env, const_cast<uint8_t *>(data_), size_ + tail_, FinalizeData, mapping_);
    if (env.IsExceptionPending()) {
      mapping_->finalized = true;  // no ArrayBuffer: the reader alone owns it
      Shutdown(true);
      return false;
    }
    data_ref_ = Napi::Persistent(data);
    return true;
  }

  static void OnEnvCleanup(void *arg) {
    auto *self = static_cast<RingBuffer *>(arg);
    self->cleanup_hook_ = false;
    self->Shutdown(false);
  }

  // Room for one more record's offsets: the offset arrays double (the
  // batch's so far copied over). Runs inside DrainOnce, where a handle scope
  // is open; false when no memory could be had.
  bool Grow(Napi::Env env) {
    size_t cap = offsets_cap_ ? 2 * offsets_cap_ : 4096;
    Napi::ArrayBuffer starts = Napi::ArrayBuffer::New(env, cap * sizeof(uint32_t));
    Napi::ArrayBuffer ends = Napi::ArrayBuffer::New(env, cap * sizeof(uint32_t));
    if (env.IsExceptionPending() || starts.Data() == nullptr || ends.Data() == nullptr) return false;
    if (count_) {
      memcpy(starts.Data(), starts_, count_ * sizeof(uint32_t));
      memcpy(ends.Data(), ends_, count_ * sizeof(uint32_t));
    }
    starts_ref_ = Napi::Persistent(starts);
    ends_ref_ = Napi::Persistent(ends);
    starts_ = static_cast<uint32_t *>(starts.Data());
    ends_ = static_cast<uint32_t *>(ends.Data());
    offsets_cap_ = cap;
    return true;
  }

  static void OnReadable(uv_poll_t *handle, int status, int events) {
    auto *self = static_cast<RingBuffer *>(handle->data);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    self->DrainOnce(env);
  }

  // Reads up to one batch and delivers it; returns the number of records.
  // *more says whether the batch stopped before the committed records did
  // (the size limit, or the end of the ring).
  size_t DrainOnce(Napi::Env env, bool *more = nullptr) {
    if (more) *more = false;
    // From inside the callback a drain would consume the batch being read.
    if (!consumer_ || delivering_) return 0;
    const uint64_t mask = size_ - 1;
    const uint64_t first = __atomic_load_n(consumer_, __ATOMIC_ACQUIRE);
    // Offsets count on from the batch's first record, up to the end of the
    // ring (the record that crosses it lies whole in the mapping after it).
    const uint64_t origin = first & mask;
    uint64_t cons = first;
    uint64_t prod = __atomic_load_n(producer_, __ATOMIC_ACQUIRE);
    size_t bytes = 0;
    bool full = false;
    count_ = 0;
    while (cons < prod) {
      const uint64_t at = origin + (cons - first);
      if (at >= size_) {
        full = true;  // the next batch starts at the ring's start
        break;
      }
      const auto *header = reinterpret_cast<const uint32_t *>(data_ + at);
      __builtin_prefetch(data_ + ((cons + kPrefetchAhead) & mask));
      uint32_t word = __atomic_load_n(header, __ATOMIC_ACQUIRE);
      if (word & kBusy) break;  // reserved, not committed: what follows waits for it
      uint32_t len = word & ~(kBusy | kDiscard);
      if (!(word & kDiscard)) {
        if (at + kHeader + len > size_ + tail_) {
          // Longer than the reader was told records are: it cannot be read whole.
          if (count_ > 0) {
            full = true;  // deliver the batch before it; the next drain says why
            break;
          }
          ThrowCode(env, "EMSGSIZE", "ring buffer record of " + std::to_string(len) + " bytes runs past the " + std::to_string(tail_) +
                                         " bytes mapped after the ring's end: the reader's maxRecordBytes is too small");
          return 0;
        }
        if (count_ == offsets_cap_ && !Grow(env)) {
          if (count_ == 0) {
            ThrowCode(env, "ENOMEM", "ring buffer batch: no memory for a record's offsets");
            return 0;
          }
          env.GetAndClearPendingException();
          full = true;  // deliver what we have; the rest stays in the ring
          break;
        }
        uint32_t start = static_cast<uint32_t>(at + kHeader);
        starts_[count_] = start;
        ends_[count_] = start + len;
        count_++;
        bytes += len;
      }
      cons += (len + kHeader + 7) & ~static_cast<uint64_t>(7);
      if (bytes >= max_batch_) {
        full = true;
        break;
      }
      // Caught up: take what was committed meanwhile into this batch too.
      if (cons == prod) prod = __atomic_load_n(producer_, __ATOMIC_ACQUIRE);
    }
    if (more) *more = full;
    size_t count = count_;
    if (count > 0) {
      delivering_ = true;
      callback_.MakeCallback(Value(),
                             {data_ref_.Value(), starts_ref_.Value(), ends_ref_.Value(), Napi::Number::New(env, static_cast<double>(count))},
                             *context_);
      delivering_ = false;
    }
    // The callback may have closed the reader (and unmapped the consumer page).
    if (consumer_) __atomic_store_n(consumer_, cons, __ATOMIC_RELEASE);
    return count;
  }

  // consume() -> records delivered (synchronously, through onBatch): the last
  // drain before closing, so nothing already in the ring is lost (resume()
  // first if paused: a paused reader stops after the batch that paused it).
  Napi::Value Consume(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    size_t total = 0;
    bool more = true;
    // A batch's consumer may pause the reader (it is behind): the rest waits in the ring.
    while (more && consumer_ && !paused_ && !env.IsExceptionPending()) total += DrainOnce(env, &more);
    return Napi::Number::New(env, static_cast<double>(total));
  }

  // consumeBatch() -> whether more records wait: one batch at most, as a
  // wakeup delivers (a periodic read that found the ring far behind leaves
  // the rest for the next turns of the event loop, after other I/O).
  Napi::Value ConsumeBatch(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    bool more = false;
    if (consumer_ && !paused_) DrainOnce(env, &more);
    return Napi::Boolean::New(env, more && consumer_ && !paused_);
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    Shutdown(true);
    return info.Env().Undefined();
  }

  Napi::Value RefLoop(const Napi::CallbackInfo &info) {
    if (poll_) uv_ref(reinterpret_cast<uv_handle_t *>(poll_));
    return info.Env().Undefined();
  }
  Napi::Value UnrefLoop(const Napi::CallbackInfo &info) {
    if (poll_) uv_unref(reinterpret_cast<uv_handle_t *>(poll_));
    return info.Env().Undefined();
  }

  // pause(): no more wakeups, and consume() stops, until resume(): a
  // reader whose consumer is behind lets the ring fill, and the producer
  // counts what no longer fits, instead of the process's memory growing.
  Napi::Value Pause(const Napi::CallbackInfo &info) {
    paused_ = true;
    if (poll_) uv_poll_stop(poll_);
    return info.Env().Undefined();
  }
  Napi::Value Resume(const Napi::CallbackInfo &info) {
    paused_ = false;
    if (poll_) uv_poll_start(poll_, UV_READABLE, &RingBuffer::OnReadable);
    return info.Env().Undefined();
  }

  // Idempotent: stops polling, unmaps the consumer page, lets the object be
  // collected. `detach` (close(), from JavaScript) also detaches the data's
  // ArrayBuffer, so views of it read as empty; not from the destructor or the
  // environment's cleanup, where nothing may touch JavaScript values and
  // nothing is left to read them (the finalizer unmaps the data).
  void Shutdown(bool detach) {
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t *>(poll_), [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
      poll_ = nullptr;
    }
    if (poll_fd_ >= 0) {
      close(poll_fd_);
      poll_fd_ = -1;
    }
    if (!consumer_) return;
    munmap(consumer_, page_);
    consumer_ = nullptr;
    producer_ = nullptr;
    data_ = nullptr;
    if (!data_ref_.IsEmpty()) {
      if (detach) {
        Napi::ArrayBuffer data = data_ref_.Value();
        if (!data.IsDetached()) data.Detach();
      }
      data_ref_.Reset();
    }
    if (mapping_) {
      if (detach || mapping_->finalized) mapping_->Unmap();
      if (mapping_->finalized) delete mapping_;
      else mapping_->reader_gone = true;
      mapping_ = nullptr;
    }
    if (!callback_.IsEmpty()) callback_.Reset();
    starts_ref_.Reset();
    ends_ref_.Reset();
    starts_ = ends_ = nullptr;
    offsets_cap_ = 0;
    if (RefCount() > 0) Unref();
  }

  uint32_t RefCount() {
    uint32_t r = Ref();
    Unref();
    return r - 1;
  }

  size_t page_ = 0;
  size_t size_ = 0;  // the ring's data bytes
  size_t tail_ = 0;  // bytes of the data's start mapped again after its end
  uint64_t *consumer_ = nullptr;
  const uint64_t *producer_ = nullptr;
  const uint8_t *data_ = nullptr;
  Mapping *mapping_ = nullptr;
  int poll_fd_ = -1;
  uv_poll_t *poll_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
  // The data's ArrayBuffer (over data_, twice the ring) and the batch's
  // record offsets into it, in ArrayBuffers the references keep alive (and
  // so the raw pointers valid); capacity in records.
  Napi::Reference<Napi::ArrayBuffer> data_ref_;
  Napi::Reference<Napi::ArrayBuffer> starts_ref_;
  Napi::Reference<Napi::ArrayBuffer> ends_ref_;
  uint32_t *starts_ = nullptr;
  uint32_t *ends_ = nullptr;
  size_t offsets_cap_ = 0;
  size_t count_ = 0;
  size_t max_batch_ = 1 << 20;
  bool cleanup_hook_ = false;
  bool delivering_ = false;
  bool paused_ = false;
};

}  // namespace

void InitRingBuffer(Napi::Env env, Napi::Object exports) { exports.Set("RingBuffer", RingBuffer::Define(env)); }

}  // namespace netcap
