#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "vpipe/cli/commands.h"
#include "vpipe/core/json.h"
#include "vpipe/device/cuda/gpu.h"
#include "vpipe/device/devices.h"
#include "vpipe/pipeline/config.h"

namespace vpipe::cli {

void add_devices_command(CLI::App& app, int* exit_code) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("devices", "what hardware vpipe sees and which device --device auto picks");
  cmd->add_flag("--json", *json, "print one JSON object instead of text");
  cmd->callback([json, exit_code] {
    const DeviceInventory inv = probe_devices();
    const std::string chosen = select_device(inv, DeviceRequest::automatic()).str();
    std::vector<DeviceDefaults> defaults{device_defaults(inv, Device::cpu())};
    for (const auto& d : inv.cuda) defaults.push_back(device_defaults(inv, Device::cuda(d.index)));
    std::string why_no_kernels;
    const bool kernels = cuda::built();
    const int runtime_devices = cuda::device_count(&why_no_kernels);
    if (*json) {
      std::string defaults_json;
      for (const DeviceDefaults& d : defaults) {
        defaults_json += fmt::format(
            R"({}{}:{{"decode_workers":{},"infer_batch":{},"hash_batch":{},"memory_budget_bytes":{}}})",
            defaults_json.empty() ? "" : ",", json_quote(d.device.str()), d.decode_workers, d.infer_batch,
            d.hash_batch, d.memory_budget_bytes);
      }
      std::string cuda;
      for (const auto& d : inv.cuda) {
        cuda += fmt::format(
            R"({}{{"index":{},"name":{},"compute_capability":"{}.{}","total_memory_bytes":{},"free_memory_bytes":{},"multiprocessors":{}}})",
            cuda.empty() ? "" : ",", d.index, json_quote(d.name), d.compute_major, d.compute_minor,
            d.total_memory_bytes, d.free_memory_bytes, d.multiprocessors);
      }
      fmt::print(R"({{"cpu":{{"model":{},"cores":{},"simd":"{}"}},"cuda":[{}],"cuda_status":{},"auto":"{}",)"
                 R"("cuda_kernels":{{"built":{},"runtime_devices":{},"status":{}}},"defaults":{{{}}}}})"
                 "\n",
                 json_quote(inv.cpu.model), inv.cpu.logical_cores, inv.cpu.simd_level(), cuda,
                 json_quote(inv.cuda_status), chosen, kernels, runtime_devices,
                 json_quote(why_no_kernels), defaults_json);
    } else {
      fmt::print("cpu     {} | {} cores | SIMD {}\n", inv.cpu.model, inv.cpu.logical_cores, inv.cpu.simd_level());
      if (inv.cuda.empty()) fmt::print("cuda    none: {}\n", inv.cuda_status);
      for (const auto& d : inv.cuda) {
        fmt::print("cuda:{}  {} | sm_{}{} | {} SMs | {:.1f} GiB total, {:.1f} GiB free\n", d.index,
                   d.name, d.compute_major, d.compute_minor, d.multiprocessors,
                   d.total_memory_bytes / 1073741824.0, d.free_memory_bytes / 1073741824.0);
      }
      fmt::print("auto    {}\n", chosen);
      if (kernels) {
        fmt::print("kernels CUDA built in; the runtime sees {} device(s){}\n", runtime_devices,
                   why_no_kernels.empty() ? "" : " (" + why_no_kernels + ")");
      } else {
        fmt::print("kernels CPU only: {}\n", why_no_kernels);
      }
      fmt::print("defaults (derived from the hardware):\n");
      for (const DeviceDefaults& d : defaults) {
        fmt::print("  {:<7} decode workers {}, infer batch {}", d.device.str(), d.decode_workers, d.infer_batch);
        if (d.hash_batch > 0) {
          fmt::print(", hash batch {}, memory budget {:.1f} GiB", d.hash_batch,
                     d.memory_budget_bytes / 1073741824.0);
        }
        fmt::print("\n");
      }
      // What a GPU does in this build, stage by stage (docs/ARCHITECTURE.md, "The GPU path").
      fmt::print(
          "on a GPU (--device cuda:N, or auto with one):\n"
          "  scan                 CPU cores: decode, signals and hashes (pHash + dHash are ~40 us\n"
          "                       of ~3 ms a file; the GPU pHash kernel would save ~1%: unused)\n"
          "  dedup near pairs     the GPU from {} images (devices.gpu_dedup_min_images), else\n"
          "                       the CPU index; the CPU when the GPU cannot run it\n"
          "  infer, TorchScript   the GPU when the LibTorch plugin is built with CUDA (fp16\n"
          "                       autocast by default), else the CPU with --device auto\n"
          "  infer, ONNX          the CPU (OpenCV dnn)\n"
          "  pre/post-processing  CPU cores (the letterbox kernel is not used by a stage yet)\n",
          DevicesConfig{}.gpu_dedup_min_images);
    }
    *exit_code = 0;
  });
}

}  // namespace vpipe::cli
