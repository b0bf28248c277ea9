// OpenCV cascade and HOG detectors. Stub until the objdetect build lands.
#include <fmt/format.h>

#include "vpipe/core/error.h"
#include "vpipe/infer/model.h"

namespace vpipe::detail {

bool objdetect_built() { return false; }

std::optional<std::filesystem::path> opencv_cascade_dir() { return std::nullopt; }

std::unique_ptr<Model> load_cascade_model(const ModelSpec& spec) {
  throw ConfigError(fmt::format("model '{}': this vpipe was built without OpenCV objdetect",
                                spec.name));
}

}  // namespace vpipe::detail
