// TorchScript networks on LibTorch: CPU, or CUDA with a CUDA build of LibTorch.
//
// Built only when LibTorch is found, as a plugin (libvpipe_torch.so) that torch_loader.cpp
// dlopens when the first TorchScript model is loaded: LibTorch's own start-up (Debian's 1.13:
// about 1.3 s of CPU, registering its operators) is then paid by the runs that use it, not by
// every process that links vpipe_infer. The only file of vpipe that sees torch headers.
// Written against the APIs that LibTorch 1.13 (Debian 12's libtorch-dev) and 2.x share:
// torch::jit::load, Module::forward, IValue's tensor / tuple / list / dict accessors,
// c10::InferenceMode, torch::from_blob, Tensor::to, pinned TensorOptions, c10::OutOfMemoryError,
// at::Context's setBenchmarkCuDNN / setAllowTF32CuDNN / setAllowTF32CuBLAS. Two things differ:
//   - autocast's C++ API: 1.13 has set_enabled / set_autocast_gpu_dtype (CUDA implied), 2.4
//     made it per device (set_autocast_enabled / set_autocast_dtype(at::kCUDA, ...)) and
//     deprecated the old names; chosen by TORCH_VERSION_MAJOR/MINOR below.
//   - CUDA-only headers (CUDA graphs, the caching allocator, streams): Debian's CPU LibTorch ships
//     them, but they include the CUDA toolkit's headers, which it lacks. They are used only where
//     CMake found a CUDA LibTorch (VPIPE_TORCH_CUDA) and the toolkit's headers are reachable;
//     elsewhere CUDA still runs (the rest is device-generic), without graphs or emptyCache.
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/cuda.h>
#include <torch/script.h>
#include <torch/version.h>

#if defined(VPIPE_TORCH_CUDA) && __has_include(<cuda_runtime_api.h>) && \
    __has_include(<ATen/cuda/CUDAGraph.h>) && __has_include(<c10/cuda/CUDACachingAllocator.h>)
#define VPIPE_TORCH_CUDA_API 1
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#else
#define VPIPE_TORCH_CUDA_API 0
#endif

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define VPIPE_TORCH_AUTOCAST_PER_DEVICE 1
#else
#define VPIPE_TORCH_AUTOCAST_PER_DEVICE 0
#endif

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/infer/backend.h"
#include "vpipe/infer/torch_errors.h"

namespace vpipe::detail {
namespace {

/// The torch device of `device`. Throws ConfigError naming the model for a CUDA device LibTorch
/// cannot reach.
torch::Device torch_device(const std::filesystem::path& model, Device device) {
  if (device.is_cpu()) return torch::Device(torch::kCPU);
  if (!torch::cuda::is_available()) {
    throw ConfigError(fmt::format(
        "model '{}': device '{}' asked for, but LibTorch sees no CUDA device (this LibTorch is "
        "built for the CPU only, or there is no GPU or driver); use device 'cpu'",
        model.string(), device.str()));
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (device.index >= count) {
    throw ConfigError(fmt::format("model '{}': device '{}' asked for, but LibTorch sees {} CUDA "
                                  "device(s) (cuda:0 to cuda:{})",
                                  model.string(), device.str(), count, count - 1));
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device.index));
}

/// The reason in a LibTorch exception, on one line: without the C++ backtrace c10::Error carries,
/// and, for an error inside a TorchScript network, without the interpreter's traceback (tens of
/// lines of code); its last line holds the reason ("RuntimeError: Given groups=1, ...").
std::string reason(const std::exception& e) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&e);
  std::string message = c10_error != nullptr ? c10_error->what_without_backtrace() : e.what();
  if (message.find("Traceback of TorchScript") != std::string::npos) {
    const size_t end = message.find_last_not_of(" \n\r\t");
    if (end != std::string::npos) {
      const size_t newline = message.find_last_of('\n', end);
      const size_t begin = newline == std::string::npos ? 0 : newline + 1;
      message = message.substr(begin, end + 1 - begin);
    }
  }
  return message;
}

/// Reports a note to the loader's logger (torch_loader.cpp passes vpipe::log()'s warn); the
/// plugin links none of vpipe's objects, so it cannot log itself.
using NoteFn = void (*)(const char* text);

/// The autocast type for BackendOptions::precision, or none for "fp32". Throws ConfigError naming
/// the model for anything else, and for fp16/bf16 off CUDA (LibTorch's CPU autocast is bf16-only
/// and slower than float32 on most CPUs, so vpipe does not offer it).
std::optional<at::ScalarType> parse_precision(const std::filesystem::path& model,
                                              const std::string& precision,
                                              const torch::Device& device) {
  std::optional<at::ScalarType> dtype;
  if (precision == "fp32") return dtype;
  if (precision == "fp16") {
    dtype = at::kHalf;
  } else if (precision == "bf16") {
    dtype = at::kBFloat16;
  } else {
    throw ConfigError(fmt::format(
        "model '{}': unknown precision '{}' for LibTorch (expected fp32, fp16 or bf16)",
        model.string(), precision));
  }
  if (!device.is_cuda()) {
    throw ConfigError(fmt::format(
        "model '{}': precision '{}' needs a CUDA device (LibTorch's autocast runs on CUDA "
        "only in vpipe); on the CPU use precision 'fp32'",
        model.string(), precision));
  }
  return dtype;
}

/// Turns CUDA autocast on to `dtype` for its scope and restores the thread's previous state, as
/// Python's torch.autocast("cuda", dtype) does: autocast state is thread-local. With `cache` off,
/// weights cast to `dtype` are not cached across ops (needed while capturing a CUDA graph, whose
/// replay would otherwise read cast copies freed when the cache is cleared).
class AutocastScope {
 public:
  AutocastScope(std::optional<at::ScalarType> dtype, bool cache) : active_(dtype.has_value()) {
    if (!active_) return;
#if VPIPE_TORCH_AUTOCAST_PER_DEVICE
    was_enabled_ = at::autocast::is_autocast_enabled(at::kCUDA);
    old_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::set_autocast_dtype(at::kCUDA, *dtype);
#else
    was_enabled_ = at::autocast::is_enabled();
    old_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(*dtype);
#endif
    was_caching_ = at::autocast::is_autocast_cache_enabled();
    at::autocast::set_autocast_cache_enabled(cache);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!active_) return;
    // The outermost scope frees the cached casts, as torch.autocast's __exit__ does.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_cache_enabled(was_caching_);
#if VPIPE_TORCH_AUTOCAST_PER_DEVICE
    at::autocast::set_autocast_dtype(at::kCUDA, old_dtype_);
    at::autocast::set_autocast_enabled(at::kCUDA, was_enabled_);
#else
    at::autocast::set_autocast_gpu_dtype(old_dtype_);
    at::autocast::set_enabled(was_enabled_);
#endif
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_;
  bool was_enabled_ = false;
  bool was_caching_ = true;
  at::ScalarType old_dtype_ = at::kHalf;
};

#if VPIPE_TORCH_CUDA_API
/// One captured forward pass for one input shape: replay() reads `input` and rewrites the
/// tensors in `output` in place (both live in the graph's private memory pool).
struct CapturedGraph {
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  torch::Tensor input;
  torch::jit::IValue output;
};
#endif

class LibTorchBackend final : public Backend {
 public:
  LibTorchBackend(std::filesystem::path model, const BackendOptions& options, NoteFn note)
      : model_(std::move(model)),
        device_(torch_device(model_, options.device)),
        precision_(options.precision),
        autocast_(parse_precision(model_, options.precision, device_)),
        warmup_batches_(options.warmup_batches >= 0 ? options.warmup_batches
                        : device_.is_cuda()         ? 1
                                                    : 0),
        note_(note) {
    // Process-wide in LibTorch: the last backend loaded with threads > 0 sets it for all.
    if (options.threads > 0) at::set_num_threads(options.threads);
    if (device_.is_cuda()) {
#if VPIPE_TORCH_CUDA_API
      // A stream of its own: the infer workers sharing a GPU (worker_devices gives two per GPU)
      // then overlap one's copies with another's compute instead of queueing on one stream.
      stream_.emplace(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device_.index()));
#endif
      // Process-wide too: the last CUDA backend loaded sets them for all.
      at::globalContext().setBenchmarkCuDNN(options.cudnn_benchmark);
      at::globalContext().setAllowTF32CuDNN(options.tf32);
      at::globalContext().setAllowTF32CuBLAS(options.tf32);
      if (options.cuda_graphs) {
#if VPIPE_TORCH_CUDA_API
        graphs_ = true;
#else
        this->note(fmt::format("model '{}': cuda_graphs asked for, but this vpipe's LibTorch "
                               "plugin was built without CUDA graphs (no CUDA LibTorch or CUDA "
                               "headers at build time); running eagerly",
                               model_.string()));
#endif
      }
    }
    try {
      // Loading onto the device directly puts the weights there without a CPU copy first; the
      // module stays there for the backend's life.
      module_ = torch::jit::load(model_.string(), device_);
      module_.eval();
    } catch (const std::exception& e) {
      // .pt is also what torch.save writes (pickled weights): say what a TorchScript file is.
      throw ConfigError(fmt::format(
          "model '{}': LibTorch cannot load it as TorchScript: {} (vpipe needs a network saved "
          "by torch.jit.script(...).save or torch.jit.trace(...).save, not torch.save's weights)",
          model_.string(), reason(e)));
    }
  }

  BackendKind kind() const override { return BackendKind::kLibTorch; }

  Device device() const override {
    return device_.is_cuda() ? Device::cuda(static_cast<int>(device_.index())) : Device::cpu();
  }

  std::string precision() const override { return precision_; }

  std::vector<Tensor> infer(std::span<const float> input,
                            std::span<const int64_t> shape) override {
    if (shape.empty() || shape[0] < 1) {
      throw ItemError(fmt::format("model '{}': input has no batch dimension", model_.string()));
    }
    const int64_t numel =
        std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
    if (numel != static_cast<int64_t>(input.size())) {
      throw ItemError(fmt::format("model '{}': input of shape [{}] needs {} values, got {}",
                                  model_.string(), fmt::join(shape, ", "), numel, input.size()));
    }
    const int64_t batch = shape[0];
    const std::vector<int64_t> dims(shape.begin(), shape.end());
    std::vector<Tensor> outputs;
    try {
      // No autograd bookkeeping: faster and lighter than NoGradGuard; exists in 1.13 and 2.x.
      c10::InferenceMode inference_mode;
#if VPIPE_TORCH_CUDA_API
      // Copies, kernels and the read-back of this batch all go to this backend's stream.
      std::optional<c10::cuda::CUDAStreamGuard> on_stream;
      if (stream_) on_stream.emplace(*stream_);
#endif
      const torch::Tensor on_device = to_device(input, dims);
      // Marked seen only once a batch of it went through: a shape whose first batch failed
      // (out of memory, say) is warmed up again when it comes back.
      const bool new_shape = seen_shapes_.count(dims) == 0;
      if (new_shape) {
        // Discarded passes: cuDNN's autotuning (cudnn_benchmark) and TorchScript's profiling
        // runs happen here, not in the batches after.
        const int runs = graphs_ ? std::max(warmup_batches_, kGraphWarmups) : warmup_batches_;
        for (int i = 0; i < runs; ++i) (void)forward(on_device.clone(), /*cache=*/true);
      }
      const torch::jit::IValue result = run(on_device, dims, new_shape);
      collect(result, batch, outputs);
      if (new_shape) seen_shapes_.insert(dims);
    } catch (const ItemError&) {
      throw;
    } catch (const c10::OutOfMemoryError& e) {
      throw out_of_memory(shape, reason(e));
    } catch (const std::exception& e) {
      // Inside a TorchScript network an allocation failure arrives re-wrapped as a plain error
      // with the interpreter's traceback: classify by the whole message.
      if (is_cuda_oom_message(e.what())) throw out_of_memory(shape, reason(e));
      settle_device();
      throw ItemError(fmt::format("model '{}': LibTorch refused a batch of shape [{}]: {}",
                                  model_.string(), fmt::join(shape, ", "), reason(e)));
    }
    if (outputs.empty()) {
      throw ItemError(fmt::format("model '{}': the network returned no tensor", model_.string()));
    }
    return outputs;
  }

 private:
  // CUDA graph capture wants the network's allocations and lazy initialisation (cuBLAS handles,
  // TorchScript's profiled graph) done before it: PyTorch's docs warm up 3 times on a side stream.
  static constexpr int kGraphWarmups = 3;

  void note(const std::string& text) const {
    if (note_ != nullptr) note_(text.c_str());
  }

  /// The input as a float32 tensor on the device, owned by LibTorch. On the CPU: a copy of the
  /// caller's buffer (so an in-place op in the network cannot write into the caller's const
  /// input). On CUDA: through a pinned host buffer, reused while the shape stays the same, and an
  /// asynchronous copy; the buffer is free again when infer() returns, since reading the outputs
  /// back waits for everything queued before.
  torch::Tensor to_device(std::span<const float> input, const std::vector<int64_t>& dims) {
    const torch::Tensor view =
        torch::from_blob(const_cast<float*>(input.data()), dims,
                         torch::TensorOptions().dtype(torch::kFloat32));
    if (!device_.is_cuda()) {
      return view.to(device_, torch::kFloat32, /*non_blocking=*/false, /*copy=*/true);
    }
    if (!staging_.defined() || staging_.sizes() != view.sizes()) {
      staging_ = torch::empty(dims, torch::TensorOptions().dtype(torch::kFloat32).pinned_memory(true));
    }
    std::memcpy(staging_.data_ptr<float>(), input.data(), input.size() * sizeof(float));
    return staging_.to(device_, torch::kFloat32, /*non_blocking=*/true);
  }

  /// One eager forward pass under autocast when asked for.
  torch::jit::IValue forward(torch::Tensor on_device, bool cache) {
    const AutocastScope autocast(autocast_, cache);
    std::vector<torch::jit::IValue> args;
    args.emplace_back(std::move(on_device));
    return module_.forward(std::move(args));
  }

  /// The batch's result: a CUDA graph's replay where graphs are on (capturing one on the first
  /// batch of a shape), else an eager forward pass.
  torch::jit::IValue run(const torch::Tensor& on_device, const std::vector<int64_t>& dims,
                         bool new_shape) {
#if VPIPE_TORCH_CUDA_API
    if (graphs_) {
      auto found = graphs_by_shape_.find(dims);
      if (found == graphs_by_shape_.end() && new_shape) {
        if (std::optional<CapturedGraph> captured = capture(on_device)) {
          found = graphs_by_shape_.emplace(dims, std::move(*captured)).first;
        }
      }
      if (found != graphs_by_shape_.end()) {
        found->second.input.copy_(on_device, /*non_blocking=*/true);
        found->second.graph->replay();
        return found->second.output;
      }
    }
#else
    (void)dims;
    (void)new_shape;
#endif
    return forward(on_device, /*cache=*/true);
  }

#if VPIPE_TORCH_CUDA_API
  /// Captures one forward pass on a side stream (capture is refused on the default stream). On
  /// failure (an op that syncs or allocates on the host, ...): one note, graphs off for this
  /// backend, and none returned, so the batch runs eagerly.
  std::optional<CapturedGraph> capture(const torch::Tensor& on_device) {
    CapturedGraph captured;
    try {
      captured.input = on_device.clone();
      captured.graph = std::make_unique<at::cuda::CUDAGraph>();
      c10::cuda::getCurrentCUDAStream(device_.index()).synchronize();
      const c10::cuda::CUDAStreamGuard side(c10::cuda::getStreamFromPool(false, device_.index()));
      captured.graph->capture_begin();
      try {
        captured.output = forward(captured.input, /*cache=*/false);
      } catch (...) {
        try {
          captured.graph->capture_end();
        } catch (...) {  // the capture is invalid already; the forward's error says why
        }
        throw;
      }
      captured.graph->capture_end();
      c10::cuda::getCurrentCUDAStream(device_.index()).synchronize();
      return captured;
    } catch (const std::exception& e) {
      graphs_ = false;
      note(fmt::format("model '{}': capturing a CUDA graph failed ({}); running eagerly",
                       model_.string(), reason(e)));
      return std::nullopt;
    }
  }
#endif

  /// After a failed batch on CUDA: waits for the work still queued (the staging buffer's copy),
  /// so the next batch may rewrite the buffer. Best effort: a failure here changes nothing.
  void settle_device() const noexcept {
    if (!device_.is_cuda()) return;
    try {
      torch::cuda::synchronize(device_.index());
    } catch (...) {  // the batch's own error is the one to report
    }
  }

  /// The error for a batch the device had no memory for, after giving the caching allocator's
  /// free blocks back to the driver, so the smaller batch the caller retries with starts clean.
  DeviceOutOfMemory out_of_memory(std::span<const int64_t> shape, const std::string& why) const {
    settle_device();
#if VPIPE_TORCH_CUDA_API
    if (device_.is_cuda()) {
      try {
        c10::cuda::CUDACachingAllocator::emptyCache();
      } catch (...) {  // best effort: the out-of-memory error is the one to report
      }
    }
#endif
    return DeviceOutOfMemory(fmt::format(
        "model '{}': {} ran out of memory for a batch of {} (input shape [{}]): {}",
        model_.string(), device().str(), shape[0], fmt::join(shape, ", "), why));
  }

  /// Appends the tensors in `value` to `out`, depth first: a tensor; a tuple or list, element by
  /// element; a dict, its values in insertion order (TorchScript dicts keep it; keys dropped).
  void collect(const torch::jit::IValue& value, int64_t batch, std::vector<Tensor>& out) const {
    if (value.isTensor()) {
      out.push_back(to_tensor(value.toTensor(), batch));
    } else if (value.isTuple()) {
      const auto tuple = value.toTuple();
      for (const torch::jit::IValue& element : tuple->elements()) collect(element, batch, out);
    } else if (value.isList()) {
      for (const torch::jit::IValue& element : value.toListRef()) collect(element, batch, out);
    } else if (value.isGenericDict()) {
      for (const auto& entry : value.toGenericDict()) collect(entry.value(), batch, out);
    } else {
      throw ItemError(fmt::format(
          "model '{}': the network returned a {}, not a tensor (vpipe takes a tensor, or a "
          "tuple, list or dict of tensors)",
          model_.string(), value.tagKind()));
    }
  }

  /// A LibTorch tensor (any device, any real dtype: fp16/bf16 under autocast) as a contiguous
  /// float32 vpipe::Tensor on the host.
  static Tensor to_tensor(const torch::Tensor& tensor, int64_t batch) {
    const torch::Tensor cpu = tensor.to(torch::kCPU, torch::kFloat32).contiguous();
    Tensor t;
    t.shape.assign(cpu.sizes().begin(), cpu.sizes().end());
    // A network that drops the batch dimension for a single image gets it back.
    if (batch == 1 && (t.shape.empty() || t.shape[0] != 1)) t.shape.insert(t.shape.begin(), 1);
    const float* p = cpu.data_ptr<float>();
    t.data.assign(p, p + cpu.numel());
    return t;
  }

  std::filesystem::path model_;
  torch::Device device_;
  std::string precision_;
  std::optional<at::ScalarType> autocast_;  ///< none for fp32
  int warmup_batches_;
  NoteFn note_;
  bool graphs_ = false;  ///< cuda_graphs asked for, available, and no capture has failed
  torch::jit::Module module_;
  torch::Tensor staging_;  ///< CUDA only: pinned host copy of the last input, float32
  std::set<std::vector<int64_t>> seen_shapes_;  ///< input shapes already warmed up
#if VPIPE_TORCH_CUDA_API
  std::map<std::vector<int64_t>, CapturedGraph> graphs_by_shape_;
  std::optional<c10::cuda::CUDAStream> stream_;  ///< CUDA: this backend's own stream
#endif
};

}  // namespace
}  // namespace vpipe::detail

/// The plugin's one entry point (torch_loader.cpp finds it with dlsym; the _v2 suffix names this
/// signature, so a stale plugin is refused rather than called wrongly): loads `model` with
/// `options`; the caller owns the result. `note` (may be null) receives notes worth one log line.
/// Throws ConfigError as load_backend documents.
extern "C" __attribute__((visibility("default"))) vpipe::Backend* vpipe_libtorch_load_v2(
    const std::filesystem::path* model, const vpipe::BackendOptions* options,
    vpipe::detail::NoteFn note) {
  // A raw pointer, as a C entry point must return; torch_loader.cpp wraps it in a unique_ptr.
  return std::make_unique<vpipe::detail::LibTorchBackend>(*model, *options, note).release();
}
