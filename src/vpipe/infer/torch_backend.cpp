// LibTorch backend (TorchScript). Stub until the LibTorch build lands.
#include <fmt/format.h>

#include "vpipe/core/error.h"
#include "vpipe/infer/backend.h"

namespace vpipe::detail {

bool libtorch_built() { return false; }

std::unique_ptr<Backend> load_libtorch(const std::filesystem::path& model, const BackendOptions&) {
  throw ConfigError(fmt::format("model '{}': this vpipe was built without LibTorch",
                                model.string()));
}

}  // namespace vpipe::detail
