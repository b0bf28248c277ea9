// TorchScript networks on LibTorch: CPU, or CUDA with a CUDA build of LibTorch.
//
// Built only when LibTorch is found, as a plugin (libvpipe_torch.so) that torch_loader.cpp
// dlopens when the first TorchScript model is loaded: LibTorch's own start-up (Debian's 1.13:
// about 1.3 s of CPU, registering its operators) is then paid by the runs that use it, not by
// every process that links vpipe_infer. The only file of vpipe that sees torch headers.
// Written against the APIs that LibTorch 1.13 (Debian 12's libtorch-dev) and 2.x share:
// torch::jit::load, Module::forward, IValue's tensor / tuple / list / dict accessors,
// c10::InferenceMode, torch::from_blob, Tensor::to.
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/infer/backend.h"

namespace vpipe::detail {
namespace {

/// Parses "cpu", "cuda" or "cuda:N" into a torch device; "cuda" means CUDA device 0. Throws
/// ConfigError naming the model for anything else, or for a CUDA device LibTorch cannot reach.
torch::Device parse_device(const std::filesystem::path& model, const std::string& device) {
  if (device == "cpu") return torch::Device(torch::kCPU);
  int index = -1;
  if (device == "cuda") {
    index = 0;
  } else if (device.rfind("cuda:", 0) == 0 && device.size() > 5 && device.size() <= 8 &&
             std::all_of(device.begin() + 5, device.end(),
                         [](unsigned char c) { return std::isdigit(c) != 0; })) {
    index = std::stoi(device.substr(5));
  } else {
    throw ConfigError(fmt::format(
        "model '{}': unknown device '{}' for LibTorch (expected cpu, cuda or cuda:N)",
        model.string(), device));
  }
  if (!torch::cuda::is_available()) {
    throw ConfigError(fmt::format(
        "model '{}': device '{}' asked for, but LibTorch sees no CUDA device (this LibTorch is "
        "built for the CPU only, or there is no GPU or driver); use device 'cpu'",
        model.string(), device));
  }
  const auto count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw ConfigError(fmt::format("model '{}': device '{}' asked for, but LibTorch sees {} CUDA "
                                  "device(s) (cuda:0 to cuda:{})",
                                  model.string(), device, count, count - 1));
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
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

class LibTorchBackend final : public Backend {
 public:
  LibTorchBackend(std::filesystem::path model, const BackendOptions& options)
      : model_(std::move(model)), device_(parse_device(model_, options.device)) {
    // Process-wide in LibTorch: the last backend loaded with threads > 0 sets it for all.
    if (options.threads > 0) at::set_num_threads(options.threads);
    try {
      // Loading onto the device directly puts the weights there without a CPU copy first.
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

  std::string device() const override {
    return device_.is_cuda() ? fmt::format("cuda:{}", static_cast<int>(device_.index())) : "cpu";
  }

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
    std::vector<Tensor> outputs;
    try {
      // No autograd bookkeeping: faster and lighter than NoGradGuard; exists in 1.13 and 2.x.
      c10::InferenceMode inference_mode;
      // from_blob wraps the caller's buffer without owning it; the copying to() gives the
      // network its own tensor on its device, so an in-place op in the model cannot write
      // into the caller's (const) input.
      const torch::Tensor view = torch::from_blob(
          const_cast<float*>(input.data()), c10::IntArrayRef(shape.data(), shape.size()),
          torch::TensorOptions().dtype(torch::kFloat32));
      torch::Tensor on_device = view.to(device_, torch::kFloat32, /*non_blocking=*/false,
                                        /*copy=*/true);
      std::vector<torch::jit::IValue> args;
      args.emplace_back(std::move(on_device));
      const torch::jit::IValue result = module_.forward(std::move(args));
      collect(result, batch, outputs);
    } catch (const ItemError&) {
      throw;
    } catch (const std::exception& e) {
      throw ItemError(fmt::format("model '{}': LibTorch refused a batch of shape [{}]: {}",
                                  model_.string(), fmt::join(shape, ", "), reason(e)));
    }
    if (outputs.empty()) {
      throw ItemError(fmt::format("model '{}': the network returned no tensor", model_.string()));
    }
    return outputs;
  }

 private:
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

  /// A LibTorch tensor (any device, any real dtype) as a contiguous float32 vpipe::Tensor.
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
  torch::jit::Module module_;
};

}  // namespace
}  // namespace vpipe::detail

/// The plugin's one entry point (torch_loader.cpp finds it with dlsym): loads `model` with
/// `options`; the caller owns the result. Throws ConfigError as load_backend documents.
extern "C" __attribute__((visibility("default"))) vpipe::Backend* vpipe_libtorch_load(
    const std::filesystem::path* model, const vpipe::BackendOptions* options) {
  // A raw pointer, as a C entry point must return; torch_loader.cpp wraps it in a unique_ptr.
  return std::make_unique<vpipe::detail::LibTorchBackend>(*model, *options).release();
}
