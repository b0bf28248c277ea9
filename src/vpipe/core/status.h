#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace vpipe {

/// What became of one input file. Stored in the manifest by name (`to_string`), so the names
/// are part of the on-disk format: add new values at the end, never rename.
enum class ItemStatus : uint8_t {
  kOk = 0,        ///< decoded and measured
  kDamaged,       ///< decoded with a warning (e.g. truncated JPEG, grey-filled); signals kept
  kCorrupt,       ///< could not be decoded: the error says why
  kNotImage,      ///< has an image extension but its bytes are not an image we know
  kTooLarge,      ///< over the pixel limit (decompression bomb guard)
  kUnreadable,    ///< the file could not be opened or read
  kUnsupported,   ///< an image format or variant vpipe cannot decode
  kFailed,        ///< an unexpected error while processing the item (the error says which)
};

inline constexpr std::array<ItemStatus, 8> kAllItemStatuses = {
    ItemStatus::kOk,         ItemStatus::kDamaged,  ItemStatus::kCorrupt,
    ItemStatus::kNotImage,   ItemStatus::kTooLarge, ItemStatus::kUnreadable,
    ItemStatus::kUnsupported, ItemStatus::kFailed};

/// The manifest name of a status: "ok", "damaged", "corrupt", "not_image", "too_large",
/// "unreadable", "unsupported", "failed".
[[nodiscard]] constexpr std::string_view to_string(ItemStatus s) {
  switch (s) {
    case ItemStatus::kOk: return "ok";
    case ItemStatus::kDamaged: return "damaged";
    case ItemStatus::kCorrupt: return "corrupt";
    case ItemStatus::kNotImage: return "not_image";
    case ItemStatus::kTooLarge: return "too_large";
    case ItemStatus::kUnreadable: return "unreadable";
    case ItemStatus::kUnsupported: return "unsupported";
    case ItemStatus::kFailed: return "failed";
  }
  return "unknown";
}

/// Inverse of `to_string`; nullopt for a name that is not a status.
[[nodiscard]] constexpr std::optional<ItemStatus> item_status_from_string(std::string_view name) {
  for (ItemStatus s : kAllItemStatuses) {
    if (to_string(s) == name) return s;
  }
  return std::nullopt;
}

/// True when the item carries usable pixels and signals (ok or damaged).
[[nodiscard]] constexpr bool has_signals(ItemStatus s) {
  return s == ItemStatus::kOk || s == ItemStatus::kDamaged;
}

}  // namespace vpipe
