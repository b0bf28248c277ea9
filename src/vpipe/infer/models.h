#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

namespace vpipe {

/// The folder of the running executable (/proc/self/exe); nullopt when it cannot be read.
/// Installed and bundled layouts (scripts/bundle.sh) find their parts from it: ../lib/vpipe,
/// ../share/vpipe/models, ../share/opencv4.
[[nodiscard]] std::optional<std::filesystem::path> executable_dir();

/// Finds a model file shipped by scripts/fetch-models.sh, by its path below the models folder
/// (e.g. "blazeface/face_detection_front_128x128.onnx"): first under $VPIPE_MODEL_DIR, then
/// under ../share/vpipe/models from the executable (a bundle), then under the source checkout's
/// models/ folder. nullopt when none has it.
[[nodiscard]] std::optional<std::filesystem::path> find_model(std::string_view relative);

}  // namespace vpipe
