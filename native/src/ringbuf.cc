// A BPF ring buffer drained from Node's event loop. libbpf's ring_buffer does
// the kernel ring's memory ordering (acquire on the producer position,
// release on the consumer position); libuv polls its epoll fd. Each wakeup
// hands JavaScript one batch: records copied back to back into a staging
// ArrayBuffer, and their end offsets in a second one, with the byte and
// record counts. The staging buffers are kept from batch to batch (grown
// when a batch needs more), so a batch costs one copy out of the ring and
// no allocation; whether JavaScript copies them again is its choice
// (src/bpf/ringbuf.ts). Nothing handed out points into the ring. A batch
// stops at maxBatchBytes (default 1 MiB) so it stays in cache and a busy
// producer can't keep one wakeup going forever; the ring's poll is
// level-triggered (kernel/bpf/ringbuf.c ringbuf_map_poll), so libuv calls
// again for the rest after other I/O had its turn (consumeBatch() reads one
// batch the same way and says whether more waits). consume() drains
// everything, batch after batch, unless a batch's consumer pauses the
// reader: pause() stops the polling and the drain after that batch, so what
// a consumer that is behind holds is bounded by its own bound, not by the
// ring (the rest waits there, and the producer counts what does not fit).
#include <bpf/libbpf.h>
#include <uv.h>

#include <algorithm>
#include <cstring>

#include "errors.h"

namespace netcap {
namespace {

class RingBuffer : public Napi::ObjectWrap<RingBuffer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RingBuffer",
                       {InstanceMethod("consume", &RingBuffer::Consume), InstanceMethod("consumeBatch", &RingBuffer::ConsumeBatch),
                        InstanceMethod("close", &RingBuffer::Close),
                        InstanceMethod("pause", &RingBuffer::Pause), InstanceMethod("resume", &RingBuffer::Resume),
                        InstanceMethod("ref", &RingBuffer::RefLoop), InstanceMethod("unref", &RingBuffer::UnrefLoop)});
  }

  // new RingBuffer(mapFd, onBatch(data: ArrayBuffer, bytes, ends: ArrayBuffer, count), maxBatchBytes?)
  explicit RingBuffer(const Napi::CallbackInfo &info) : Napi::ObjectWrap<RingBuffer>(info) {
    Napi::Env env = info.Env();
    int fd;
    if (!ArgFd(info, 0, &fd)) return;
    if (info.Length() < 2 || !info[1].IsFunction()) {
      ThrowCode(env, "EINVAL", "new RingBuffer(mapFd, onBatch)");
      return;
    }
    rb_ = ring_buffer__new(fd, &RingBuffer::OnSample, this, nullptr);
    if (!rb_) {
      ThrowErrno(env, errno, "ring_buffer__new");
      return;
    }
    if (info.Length() > 2 && info[2].IsNumber() && info[2].As<Napi::Number>().Int64Value() > 0)
      max_batch_ = static_cast<size_t>(info[2].As<Napi::Number>().Int64Value());
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "netcap:ringbuf");
    uv_loop_t *loop;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    poll_->data = this;
    uv_poll_init(loop, poll_, ring_buffer__epoll_fd(rb_));
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
    Shutdown();
  }

 private:
  static void OnEnvCleanup(void *arg) {
    auto *self = static_cast<RingBuffer *>(arg);
    self->cleanup_hook_ = false;
    self->Shutdown();
  }

  static int OnSample(void *ctx, void *data, size_t size) {
    auto *self = static_cast<RingBuffer *>(ctx);
    if ((self->bytes_ + size > self->data_cap_ || self->count_ == self->ends_cap_) && !self->Grow(size)) {
      self->failed_ = true;
      return -1;
    }
    memcpy(self->data_ + self->bytes_, data, size);
    self->bytes_ += size;
    self->ends_[self->count_++] = static_cast<uint32_t>(self->bytes_);
    // A negative return stops libbpf's consume loop; the record just copied
    // is already consumed (libbpf advances the consumer position before the
    // callback and stores it when bailing out: ringbuf_process_ring).
    if (self->bytes_ >= self->max_batch_) {
      self->full_ = true;
      return -1;
    }
    return 0;
  }

  // Makes room for one more record of `size` bytes in the staging buffers,
  // growing them (the records so far are copied over). Runs inside
  // DrainOnce, where env_ is set and a handle scope is open; false when no
  // memory could be had.
  bool Grow(size_t size) {
    if (bytes_ + size > data_cap_) {
      Napi::ArrayBuffer grown = Napi::ArrayBuffer::New(*env_, std::max(bytes_ + size, 2 * data_cap_));
      if (grown.IsEmpty() || grown.Data() == nullptr) return false;
      memcpy(grown.Data(), data_, bytes_);
      data_ref_ = Napi::Persistent(grown);
      data_ = static_cast<uint8_t *>(grown.Data());
      data_cap_ = grown.ByteLength();
    }
    if (count_ == ends_cap_) {
      Napi::ArrayBuffer grown = Napi::ArrayBuffer::New(*env_, 2 * ends_cap_ * sizeof(uint32_t));
      if (grown.IsEmpty() || grown.Data() == nullptr) return false;
      memcpy(grown.Data(), ends_, count_ * sizeof(uint32_t));
      ends_ref_ = Napi::Persistent(grown);
      ends_ = static_cast<uint32_t *>(grown.Data());
      ends_cap_ = grown.ByteLength() / sizeof(uint32_t);
    }
    return true;
  }

  static void OnReadable(uv_poll_t *handle, int status, int events) {
    auto *self = static_cast<RingBuffer *>(handle->data);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    self->DrainOnce(env);
  }

  // Reads up to one batch and delivers it; returns the number of records.
  // *more says whether the batch stopped at the size limit.
  size_t DrainOnce(Napi::Env env, bool *more = nullptr) {
    if (more) *more = false;
    if (!rb_) return 0;
    if (data_ref_.IsEmpty()) {
      // First drain: staging for a whole batch and its last record's slack.
      Napi::ArrayBuffer data = Napi::ArrayBuffer::New(env, max_batch_ + 4096);
      Napi::ArrayBuffer ends = Napi::ArrayBuffer::New(env, 4096 * sizeof(uint32_t));
      if (env.IsExceptionPending()) return 0;
      data_ref_ = Napi::Persistent(data);
      ends_ref_ = Napi::Persistent(ends);
      data_ = static_cast<uint8_t *>(data.Data());
      data_cap_ = data.ByteLength();
      ends_ = static_cast<uint32_t *>(ends.Data());
      ends_cap_ = ends.ByteLength() / sizeof(uint32_t);
    }
    env_ = &env;
    bytes_ = 0;
    count_ = 0;
    full_ = false;
    failed_ = false;
    int n = ring_buffer__consume(rb_);
    env_ = nullptr;
    if (failed_) {
      ThrowCode(env, "ENOMEM", "ring buffer batch: no memory for a record");
      return 0;
    }
    if (n < 0 && !full_) {
      ThrowErrno(env, n, "ring_buffer__consume");
      return 0;
    }
    if (more) *more = full_;
    if (count_ == 0) return 0;
    size_t count = count_;
    callback_.MakeCallback(Value(), {data_ref_.Value(), Napi::Number::New(env, static_cast<double>(bytes_)), ends_ref_.Value(), Napi::Number::New(env, static_cast<double>(count))},
                           *context_);
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
    while (more && rb_ && !paused_ && !env.IsExceptionPending()) total += DrainOnce(env, &more);
    return Napi::Number::New(env, static_cast<double>(total));
  }

  // consumeBatch() -> whether more records wait: one batch at most, as a
  // wakeup delivers (a periodic read that found the ring far behind leaves
  // the rest for the next turns of the event loop, after other I/O).
  Napi::Value ConsumeBatch(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    bool more = false;
    if (rb_ && !paused_) DrainOnce(env, &more);
    return Napi::Boolean::New(env, more && rb_ && !paused_);
  }

  Napi::Value Close(const Napi::CallbackInfo &info) {
    Shutdown();
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

  // Idempotent: stops polling, frees the ring, lets the object be collected.
  void Shutdown() {
    if (poll_) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t *>(poll_), [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
      poll_ = nullptr;
    }
    if (rb_) {
      ring_buffer__free(rb_);
      rb_ = nullptr;
      if (!callback_.IsEmpty()) callback_.Reset();
      data_ref_.Reset();
      ends_ref_.Reset();
      data_ = nullptr;
      ends_ = nullptr;
      data_cap_ = ends_cap_ = 0;
      if (RefCount() > 0) Unref();
    }
  }

  uint32_t RefCount() {
    uint32_t r = Ref();
    Unref();
    return r - 1;
  }

  struct ring_buffer *rb_ = nullptr;
  uv_poll_t *poll_ = nullptr;
  Napi::FunctionReference callback_;
  std::unique_ptr<Napi::AsyncContext> context_;
  // Staging (see the top): the records of the batch being read and their end
  // offsets, in ArrayBuffers the references keep alive (and so the raw
  // pointers valid); capacities in bytes and in records.
  Napi::Reference<Napi::ArrayBuffer> data_ref_;
  Napi::Reference<Napi::ArrayBuffer> ends_ref_;
  uint8_t *data_ = nullptr;
  uint32_t *ends_ = nullptr;
  size_t data_cap_ = 0;
  size_t ends_cap_ = 0;
  Napi::Env *env_ = nullptr;
  size_t bytes_ = 0;
  size_t count_ = 0;
  size_t max_batch_ = 1 << 20;
  bool cleanup_hook_ = false;
  bool full_ = false;
  bool failed_ = false;
  bool paused_ = false;
};

}  // namespace

void InitRingBuffer(Napi::Env env, Napi::Object exports) { exports.Set("RingBuffer", RingBuffer::Define(env)); }

}  // namespace netcap
