#pragma once

// Shared by the YOLO and COCO checkers; not part of the public API.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "vpipe/core/status.h"
#include "vpipe/validate/validate.h"

namespace vpipe::validate_detail {

/// An axis-aligned box in any consistent unit (normalised for YOLO, pixels for COCO).
struct Box {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
};

/// Intersection over union; 0 when either box has no area.
[[nodiscard]] double iou(const Box& a, const Box& b);

/// A labelled box of one image, for the duplicate check.
struct LabelledBox {
  int64_t category = 0;
  Box box;
  int64_t line = 0;  ///< where it is written (label line / annotation entry line)
};

/// Reports each box that duplicates an earlier one of the same category in the same image
/// (identical, or IoU > `threshold`) as `duplicate_box` at the later box's line. `boxes` is in
/// file order.
void report_duplicates(const std::vector<LabelledBox>& boxes, double threshold,
                       const std::string& path, const std::string& what, ValidationReport& report);

/// The outcome of reading and fully decoding one image file.
struct ImageOutcome {
  ItemStatus status = ItemStatus::kUnreadable;
  std::string message;
  int width = 0;  ///< after EXIF orientation; 0 when the image did not decode
  int height = 0;
};

/// Reads and decodes every file in `files` on up to `threads` workers, one Decoder each.
/// Returns one outcome per file, in the same order.
[[nodiscard]] std::vector<ImageOutcome> decode_images(
    const std::vector<std::filesystem::path>& files, int threads, uint64_t max_pixels);

/// Adds `image_corrupt` (error) or `image_damaged` (warning) for an outcome that is not ok, at
/// `path`:`line`, naming `image` in the message. Returns true when the image decoded (ok or
/// damaged), so its size is known.
bool report_image_outcome(const ImageOutcome& outcome, const std::string& path, int64_t line,
                          const std::string& image, ValidationReport& report);

/// Reads a whole text file; IoError when it cannot be opened.
[[nodiscard]] std::string read_text_file(const std::filesystem::path& path);

/// The YOLO and COCO checkers. They append to `report` and fill its counters.
void validate_yolo(const ValidateOptions& options, ValidationReport& report);
void validate_coco(const ValidateOptions& options, const std::vector<std::filesystem::path>& jsons,
                   ValidationReport& report);

/// The COCO JSON files `options` names or DIR holds (see ValidateOptions::coco_json).
[[nodiscard]] std::vector<std::filesystem::path> find_coco_jsons(const ValidateOptions& options);

}  // namespace vpipe::validate_detail
