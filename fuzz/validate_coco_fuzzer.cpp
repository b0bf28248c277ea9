// libFuzzer target: validate's COCO reader (vpipe/validate/validate.h): the input is the
// annotation JSON of a dataset folder that holds one image, a.png (4x3), and images/b.png.
// file_name may name them, anything else, or try to leave the folder.

#include <filesystem>

#include "validate_fuzz.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  vpipe::fuzz::write_small_png(vpipe::fuzz::scratch_dir() / "coco/a.png");
  vpipe::fuzz::write_small_png(vpipe::fuzz::scratch_dir() / "coco/images/b.png");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path dir = vpipe::fuzz::scratch_dir() / "coco";
  vpipe::fuzz::write_file(dir / "annotations.json",
                          std::string_view(reinterpret_cast<const char*>(data), size));
  vpipe::ValidateOptions options;
  options.dir = dir;
  options.format = vpipe::DatasetFormat::kCoco;
  options.coco_json = dir / "annotations.json";
  options.threads = 1;
  options.max_pixels = vpipe::fuzz::kFuzzMaxPixels;
  const vpipe::ValidationReport report = vpipe::validate_dataset(options);
  VPIPE_FUZZ_CHECK(report.format == vpipe::DatasetFormat::kCoco);
  vpipe::fuzz::check_report(report, dir);
  return 0;
}
