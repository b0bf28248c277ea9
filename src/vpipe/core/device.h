#pragma once

// Where work runs, as a value: the host's cores or one CUDA device, and what a user asked for
// (`--device`, `devices.device`). Parsed once where the text comes in; passes and backends hold
// the value. Header-only: the LibTorch plugin (infer/torch_backend.cpp) uses it without linking
// vpipe_core.

#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace vpipe {

namespace device_detail {

/// The index of "cuda:N" (N decimal digits, at most 4: 0..9999); nullopt for anything else.
inline std::optional<int> cuda_index(std::string_view text) {
  constexpr std::string_view kPrefix = "cuda:";
  if (!text.starts_with(kPrefix)) return std::nullopt;
  const std::string_view digits = text.substr(kPrefix.size());
  if (digits.empty() || digits.size() > 4) return std::nullopt;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;  // from_chars alone would take "-1"
  }
  int index = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return index;
}

}  // namespace device_detail

/// One place work runs: the CPU (every core) or CUDA device `index`.
struct Device {
  enum class Kind { kCpu, kCuda };
  Kind kind = Kind::kCpu;
  int index = 0;  ///< the CUDA ordinal; 0 on the CPU

  [[nodiscard]] static constexpr Device cpu() { return Device{}; }
  [[nodiscard]] static constexpr Device cuda(int ordinal) { return Device{Kind::kCuda, ordinal}; }

  [[nodiscard]] constexpr bool is_cuda() const { return kind == Kind::kCuda; }
  [[nodiscard]] constexpr bool is_cpu() const { return kind == Kind::kCpu; }
  /// "cpu" or "cuda:N": how the CLI, the runs table and the logs name it.
  [[nodiscard]] std::string str() const {
    return is_cuda() ? "cuda:" + std::to_string(index) : std::string("cpu");
  }
  /// "cpu", "cuda" (device 0) or "cuda:N"; nullopt for anything else.
  [[nodiscard]] static std::optional<Device> parse(std::string_view text) {
    if (text == "cpu") return cpu();
    if (text == "cuda") return cuda(0);
    if (const std::optional<int> index = device_detail::cuda_index(text)) return cuda(*index);
    return std::nullopt;
  }

  friend constexpr bool operator==(const Device&, const Device&) = default;
};

/// What a user asked for: `auto` (a GPU when there is one, else the CPU), the CPU, any CUDA
/// device (`cuda`: every GPU for work that spreads, device 0 for one), or one CUDA device.
struct DeviceRequest {
  enum class Kind { kAuto, kCpu, kAnyCuda, kCuda };
  Kind kind = Kind::kAuto;
  int index = 0;  ///< kCuda only

  [[nodiscard]] static constexpr DeviceRequest automatic() { return DeviceRequest{}; }
  [[nodiscard]] static constexpr DeviceRequest of(Device device) {
    return device.is_cuda() ? DeviceRequest{Kind::kCuda, device.index}
                            : DeviceRequest{Kind::kCpu, 0};
  }

  /// "auto", "cpu", "cuda" or "cuda:N"; nullopt for anything else.
  [[nodiscard]] static std::optional<DeviceRequest> parse(std::string_view text) {
    if (text == "auto") return DeviceRequest{Kind::kAuto, 0};
    if (text == "cpu") return DeviceRequest{Kind::kCpu, 0};
    if (text == "cuda") return DeviceRequest{Kind::kAnyCuda, 0};
    if (const std::optional<int> index = device_detail::cuda_index(text)) {
      return DeviceRequest{Kind::kCuda, *index};
    }
    return std::nullopt;
  }
  /// The text parse() reads back.
  [[nodiscard]] std::string str() const {
    switch (kind) {
      case Kind::kAuto:
        return "auto";
      case Kind::kCpu:
        return "cpu";
      case Kind::kAnyCuda:
        return "cuda";
      case Kind::kCuda:
        return "cuda:" + std::to_string(index);
    }
    return "auto";
  }
  /// The words an error about a device value ends with.
  static constexpr const char* kExpected = "expected auto, cpu, cuda or cuda:N (N a device index)";

  friend constexpr bool operator==(const DeviceRequest&, const DeviceRequest&) = default;
};

}  // namespace vpipe
