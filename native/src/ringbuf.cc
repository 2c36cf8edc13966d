// A BPF ring buffer drained from Node's event loop. libbpf's ring_buffer does
// the kernel ring's memory ordering (acquire on the producer position,
// release on the consumer position); libuv polls its epoll fd. Each wakeup
// drains the ring completely and hands JavaScript one batch: a Buffer holding
// copies of every record back to back, and a Uint32Array of their end
// offsets. Nothing handed out points into the ring.
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
                        InstanceMethod("ref", &RingBuffer::RefLoop), InstanceMethod("unref", &RingBuffer::UnrefLoop)});
  }

  // new RingBuffer(mapFd, onBatch(data: Buffer, ends: Uint32Array))
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
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    context_ = std::make_unique<Napi::AsyncContext>(env, "netcap:ringbuf");
    uv_loop_t *loop;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    poll_->data = this;
    uv_poll_init(loop, poll_, ring_buffer__epoll_fd(rb_));
    uv_poll_start(poll_, UV_READABLE, &RingBuffer::OnReadable);
    Ref();  // stay alive while the poll handle can call us
    env.AddCleanupHook([this]() { Shutdown(); });
  }

  ~RingBuffer() override { Shutdown(); }

 private:
  static int OnSample(void *ctx, void *data, size_t size) {
    auto *self = static_cast<RingBuffer *>(ctx);
    const uint8_t *p = static_cast<const uint8_t *>(data);
    self->batch_.insert(self->batch_.end(), p, p + size);
    self->ends_.push_back(static_cast<uint32_t>(self->batch_.size()));
    return 0;
  }

  static void OnReadable(uv_poll_t *handle, int status, int events) {
    auto *self = static_cast<RingBuffer *>(handle->data);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    self->Drain(env);
  }

  // Drains the ring and delivers one batch; returns the number of records.
  size_t Drain(Napi::Env env) {
    if (!rb_) return 0;
    batch_.clear();
    ends_.clear();
    int n = ring_buffer__consume(rb_);
    if (n < 0) {
      ThrowErrno(env, n, "ring_buffer__consume");
      return 0;
    }
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
  // drain before closing, so nothing already in the ring is lost.
  Napi::Value Consume(const Napi::CallbackInfo &info) {
    return Napi::Number::New(info.Env(), static_cast<double>(Drain(info.Env())));
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
};

}  // namespace

void InitRingBuffer(Napi::Env env, Napi::Object exports) { exports.Set("RingBuffer", RingBuffer::Define(env)); }

}  // namespace netcap
