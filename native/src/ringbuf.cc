// A BPF ring buffer drained from Node's event loop. libbpf's ring_buffer does
// the kernel ring's memory ordering (acquire on the producer position,
// release on the consumer position); libuv polls its epoll fd. Each wakeup
// hands JavaScript one batch: a Buffer holding copies of records back to
// back, and a Uint32Array of their end offsets. Nothing handed out points
// into the ring. A batch stops at maxBatchBytes (default 1 MiB) so it stays
// in cache and a busy producer can't keep one wakeup going forever; the
// ring's poll is level-triggered (kernel/bpf/ringbuf.c ringbuf_map_poll), so
// libuv calls again for the rest after other I/O had its turn. consume()
// drains everything, batch after batch.
#include <bpf/libbpf.h>
#include <uv.h>

#include <vector>

#include "errors.h"

namespace netcap {
namespace {

class RingBuffer : public Napi::ObjectWrap<RingBuffer> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RingBuffer",
                       {InstanceMethod("consume", &RingBuffer::Consume), InstanceMethod("close", &RingBuffer::Close),
                        InstanceMethod("ref", &RingBuffer::RefLoop), InstanceMethod("unref", &RingBuffer::UnrefLoop),
                        InstanceMethod("pause", &RingBuffer::Pause), InstanceMethod("resume", &RingBuffer::Resume)});
  }

  // new RingBuffer(mapFd, onBatch(data: Buffer, ends: Uint32Array), maxBatchBytes?)
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
    batch_.reserve(max_batch_ + 4096);
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
    const uint8_t *p = static_cast<const uint8_t *>(data);
    self->batch_.insert(self->batch_.end(), p, p + size);
    self->ends_.push_back(static_cast<uint32_t>(self->batch_.size()));
    // A negative return stops libbpf's consume loop; the record just copied
    // is already consumed (libbpf advances the consumer position before the
    // callback and stores it when bailing out: ringbuf_process_ring).
    if (self->batch_.size() >= self->max_batch_) {
      self->full_ = true;
      return -1;
    }
    return 0;
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
    batch_.clear();
    ends_.clear();
    full_ = false;
    int n = ring_buffer__consume(rb_);
    if (n < 0 && !full_) {
      ThrowErrno(env, n, "ring_buffer__consume");
      return 0;
    }
    if (more) *more = full_;
    if (ends_.empty()) return 0;
    size_t count = ends_.size();
    Napi::Buffer<uint8_t> data = Napi::Buffer<uint8_t>::Copy(env, batch_.data(), batch_.size());
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, ends_.size() * sizeof(uint32_t));
    memcpy(ab.Data(), ends_.data(), ends_.size() * sizeof(uint32_t));
    Napi::Uint32Array ends = Napi::Uint32Array::New(env, ends_.size(), ab, 0);
    callback_.MakeCallback(Value(), {data, ends}, *context_);
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
  std::vector<uint8_t> batch_;
  std::vector<uint32_t> ends_;
  size_t max_batch_ = 1 << 20;
  bool cleanup_hook_ = false;
  bool full_ = false;
  bool paused_ = false;
};

}  // namespace

void InitRingBuffer(Napi::Env env, Napi::Object exports) { exports.Set("RingBuffer", RingBuffer::Define(env)); }

}  // namespace netcap
