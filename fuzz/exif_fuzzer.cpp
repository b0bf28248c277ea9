// libFuzzer target: the EXIF orientation reader and its application to pixels (vpipe/io/exif.h).
// Each input is read twice: as a whole JPEG file (the marker walk), and as the TIFF block of
// an APP1 "Exif" segment of a minimal JPEG built around it (the IFD walk, reached directly).

#include <cstring>
#include <vector>

#include "fuzz_util.h"
#include "vpipe/io/exif.h"

namespace {

/// SOI, APP1 "Exif\0\0" + `tiff`, SOS: the smallest JPEG whose EXIF is `tiff`. Empty when
/// `tiff` does not fit one segment (65535 bytes with the length and the identifier).
std::vector<uint8_t> wrap_in_app1(std::span<const uint8_t> tiff) {
  const size_t length = 2 + 6 + tiff.size();
  if (length > 0xFFFF) return {};
  std::vector<uint8_t> jpeg = {0xFF,
                               0xD8,
                               0xFF,
                               0xE1,
                               static_cast<uint8_t>(length >> 8),
                               static_cast<uint8_t>(length & 0xFF)};
  const char kExif[6] = {'E', 'x', 'i', 'f', '\0', '\0'};
  jpeg.insert(jpeg.end(), kExif, kExif + 6);
  jpeg.insert(jpeg.end(), tiff.begin(), tiff.end());
  jpeg.insert(jpeg.end(), {0xFF, 0xDA});
  return jpeg;
}

/// Applies `orientation` to a small non-square image and checks the result's shape.
void check_orientation(int orientation) {
  VPIPE_FUZZ_CHECK(orientation >= 1 && orientation <= 8);
  for (const int channels : {1, 3, 4}) {
    vpipe::Image img(5, 3, channels);
    for (size_t i = 0; i < img.pixels.size(); ++i) img.pixels[i] = static_cast<uint8_t>(i);
    vpipe::apply_orientation(img, orientation);
    const bool swap = orientation >= 5;
    VPIPE_FUZZ_CHECK(img.width == (swap ? 3 : 5) && img.height == (swap ? 5 : 3));
    VPIPE_FUZZ_CHECK(img.channels == channels && img.pixels.size() == size_t{15} * channels);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> bytes(data, size);
  check_orientation(vpipe::jpeg_exif_orientation(bytes));
  const std::vector<uint8_t> wrapped = wrap_in_app1(bytes);
  if (!wrapped.empty()) check_orientation(vpipe::jpeg_exif_orientation(wrapped));
  return 0;
}
