#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "vpipe/core/device.h"

namespace vpipe {

/// A dense float32 tensor, row-major, owning its data.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<float> data;  ///< product(shape) values

  /// Number of elements: the product of `shape` (1 for a scalar, shape empty).
  [[nodiscard]] int64_t numel() const;
};

/// The engines that run a network file.
enum class BackendKind {
  kOpenCvDnn,  ///< ONNX through OpenCV's dnn module (CPU)
  kLibTorch,   ///< TorchScript through LibTorch (CPU here; CUDA with a CUDA LibTorch)
};

[[nodiscard]] std::string_view to_string(BackendKind kind);  ///< "opencv-dnn", "libtorch"

/// Where and how a backend runs. The fields after `threads` are read by the LibTorch backend only
/// (the OpenCV one ignores them); LibTorch validates them at load_backend() and throws ConfigError
/// naming the model for a value it refuses.
struct BackendOptions {
  Device device = Device::cpu();  ///< the CPU, or a CUDA device where the backend supports it
  int threads = 0;             ///< intra-op threads; 0 = the backend's default
  /// Testing: behave as a device with this many bytes for one batch. A batch whose input plus
  /// outputs (estimated from the previous call's outputs per image) would exceed it throws
  /// DeviceOutOfMemory before reaching the network, as CUDA would. 0 = off. How the tests drive
  /// the out-of-memory path (BatchHalving) on machines without a GPU.
  uint64_t simulate_memory_bytes = 0;

  /// Arithmetic on a CUDA device: "fp32" (the network as saved), "fp16" or "bf16" (LibTorch's
  /// autocast to that type around each forward: convolutions and matmuls in half precision,
  /// reductions kept in float32). Outputs are float32 whatever the choice. On the CPU only
  /// "fp32" is accepted: "fp16"/"bf16" throw ConfigError (autocast needs a CUDA device), rather
  /// than silently running float32 that the user did not ask for.
  std::string precision = "fp32";
  /// CUDA only, process-wide in LibTorch (the last CUDA backend loaded sets it for all): let
  /// cuDNN time its convolution algorithms for each new input shape and keep the fastest.
  bool cudnn_benchmark = true;
  /// CUDA only, process-wide like cudnn_benchmark: allow TF32 tensor cores for float32
  /// convolutions (cuDNN) and matmuls (cuBLAS) on Ampere and later; ~1e-3 relative error.
  bool tf32 = true;
  /// Extra, discarded forward passes on the first batch of each new input shape, so that the
  /// batches after it (and any timing of them) exclude cuDNN's autotuning and TorchScript's
  /// profiling runs. -1 = the backend's default: 1 on CUDA, 0 on the CPU.
  int warmup_batches = -1;
  /// CUDA only: after warm-up, capture one CUDA graph per input shape and replay it for later
  /// batches of that shape (less launch overhead for small networks; device memory held per
  /// shape). Falls back to eager execution, with one logged note, where this LibTorch has no
  /// CUDA graphs or a capture fails.
  bool cuda_graphs = false;
};

/// A loaded network: one float32 input tensor in, its output tensors out.
/// Not thread-safe: one Backend per worker that calls infer().
class Backend {
 public:
  virtual ~Backend() = default;
  [[nodiscard]] virtual BackendKind kind() const = 0;
  /// The device it runs on.
  [[nodiscard]] virtual Device device() const = 0;
  /// The arithmetic it runs in, as BackendOptions::precision spells it ("fp32", "fp16", "bf16").
  /// Backends without a choice run the network as saved: "fp32".
  [[nodiscard]] virtual std::string precision() const { return "fp32"; }
  /// Runs the network on one batch. `shape` is the input's shape, batch first ([N, 3, H, W] or
  /// [N, H, W, 3]); `input` holds product(shape) floats, contiguous. Returns the network's
  /// outputs in its own order, each with the batch as its first dimension (a network that drops
  /// it for N = 1 gets it back). Throws ItemError (the batch fails, the run goes on) when the network
  /// refuses the input (wrong size, ...), naming the model file and the backend's reason.
  /// Throws DeviceOutOfMemory, naming the model and the batch size, when a CUDA device has no
  /// memory for the batch: the caller may retry with a smaller one.
  [[nodiscard]] virtual std::vector<Tensor> infer(std::span<const float> input,
                                                  std::span<const int64_t> shape) = 0;
};

/// The BackendOptions::precision for `requested` (`infer.precision`, `--precision`) on `device`:
/// "auto" is "fp16" on a CUDA device and "fp32" elsewhere; anything else is returned as given
/// (the backend refuses what it cannot run). Thread-safe (pure).
[[nodiscard]] std::string resolve_precision(std::string_view requested, Device device);

/// Whether this build has `kind`. When not, `why` (if given) is told what to install.
[[nodiscard]] bool backend_available(BackendKind kind, std::string* why = nullptr);

/// The backend a model file needs, by its extension: .onnx -> OpenCV dnn; .pt, .pth,
/// .torchscript, .ts -> LibTorch. Throws ConfigError naming the file for anything else.
[[nodiscard]] BackendKind backend_for_file(const std::filesystem::path& model);

/// Loads `model` on `kind`. Throws ConfigError naming the file and the reason: a backend this
/// build lacks ("built without LibTorch: install libtorch-dev and rebuild"), a file that cannot
/// be read, or one that holds no network of that kind.
[[nodiscard]] std::unique_ptr<Backend> load_backend(const std::filesystem::path& model,
                                                    BackendKind kind,
                                                    const BackendOptions& options = {});

namespace detail {
// One per backend source file; each has a stub that throws ConfigError when the build lacks it.
std::unique_ptr<Backend> load_opencv_dnn(const std::filesystem::path& model,
                                         const BackendOptions& options);
std::unique_ptr<Backend> load_libtorch(const std::filesystem::path& model,
                                       const BackendOptions& options);
bool opencv_dnn_built();
bool libtorch_built();
}  // namespace detail

}  // namespace vpipe
