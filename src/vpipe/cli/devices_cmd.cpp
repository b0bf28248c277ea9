#include <memory>

#include <fmt/format.h>

#include "vpipe/cli/commands.h"
#include "vpipe/core/json.h"
#include "vpipe/device/devices.h"

namespace vpipe::cli {

void add_devices_command(CLI::App& app, int* exit_code) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("devices", "what hardware vpipe sees and which device --device auto picks");
  cmd->add_flag("--json", *json, "print one JSON object instead of text");
  cmd->callback([json, exit_code] {
    const DeviceInventory inv = probe_devices();
    const std::string chosen = select_device(inv, "auto");
    if (*json) {
      std::string cuda;
      for (const auto& d : inv.cuda) {
        cuda += fmt::format(
            R"({}{{"index":{},"name":{},"compute_capability":"{}.{}","total_memory_bytes":{},"free_memory_bytes":{},"multiprocessors":{}}})",
            cuda.empty() ? "" : ",", d.index, json_quote(d.name), d.compute_major, d.compute_minor,
            d.total_memory_bytes, d.free_memory_bytes, d.multiprocessors);
      }
      fmt::print(R"({{"cpu":{{"model":{},"cores":{},"simd":"{}"}},"cuda":[{}],"cuda_status":{},"auto":"{}"}})"
                 "\n",
                 json_quote(inv.cpu.model), inv.cpu.logical_cores, inv.cpu.simd_level(), cuda,
                 json_quote(inv.cuda_status), chosen);
    } else {
      fmt::print("cpu     {} | {} cores | SIMD {}\n", inv.cpu.model, inv.cpu.logical_cores, inv.cpu.simd_level());
      if (inv.cuda.empty()) fmt::print("cuda    none: {}\n", inv.cuda_status);
      for (const auto& d : inv.cuda) {
        fmt::print("cuda:{}  {} | sm_{}{} | {} SMs | {:.1f} GiB total, {:.1f} GiB free\n", d.index,
                   d.name, d.compute_major, d.compute_minor, d.multiprocessors,
                   d.total_memory_bytes / 1073741824.0, d.free_memory_bytes / 1073741824.0);
      }
      fmt::print("auto    {}\n", chosen);
    }
    *exit_code = 0;
  });
}

}  // namespace vpipe::cli
