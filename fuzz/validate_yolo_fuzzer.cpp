// libFuzzer target: validate's YOLO reader (vpipe/validate/validate.h): data.yaml and a label
// file. The input up to its first NUL byte is data.yaml and the rest the label file of
// images/train/a.png; an input without a NUL is a label file alone (no data.yaml).

#include <cstring>
#include <filesystem>

#include "validate_fuzz.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  vpipe::fuzz::write_small_png(vpipe::fuzz::scratch_dir() / "yolo/images/train/a.png");
  fs::create_directories(vpipe::fuzz::scratch_dir() / "yolo/labels/train");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const fs::path dir = vpipe::fuzz::scratch_dir() / "yolo";
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  std::error_code ec;
  if (nul == std::string_view::npos) {
    fs::remove(dir / "data.yaml", ec);
    vpipe::fuzz::write_file(dir / "labels/train/a.txt", input);
  } else {
    vpipe::fuzz::write_file(dir / "data.yaml", input.substr(0, nul));
    vpipe::fuzz::write_file(dir / "labels/train/a.txt", input.substr(nul + 1));
  }
  vpipe::ValidateOptions options;
  options.dir = dir;
  options.format = vpipe::DatasetFormat::kYolo;
  options.threads = 1;
  options.max_pixels = vpipe::fuzz::kFuzzMaxPixels;
  const vpipe::ValidationReport report = vpipe::validate_dataset(options);
  VPIPE_FUZZ_CHECK(report.format == vpipe::DatasetFormat::kYolo);
  VPIPE_FUZZ_CHECK(report.images == 1 && report.label_files == 1);
  vpipe::fuzz::check_report(report, dir);
  return 0;
}
