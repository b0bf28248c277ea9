#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

namespace vpipe {

/// Finds a model file shipped by scripts/fetch-models.sh, by its path below the models folder
/// (e.g. "blazeface/face_detection_front_128x128.onnx"): first under $VPIPE_MODEL_DIR, then
/// under the source checkout's models/ folder. nullopt when none has it.
[[nodiscard]] std::optional<std::filesystem::path> find_model(std::string_view relative);

}  // namespace vpipe
