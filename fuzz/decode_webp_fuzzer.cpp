// libFuzzer target: the WebP decoder, through Decoder::decode (vpipe/io/decode.h). A big still
// WebP is also read reduced through libwebp's rescaler, under the default pixel limit.

#include <webp/decode.h>

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The reduced decode's limit: the default one where it goes through the rescaler (a still
  // image over kRowByRowPixels), else the harness's.
  uint64_t limit = vpipe::fuzz::kFuzzMaxPixels;
  WebPBitstreamFeatures features;
  if (WebPGetFeatures(data, size, &features) == VP8_STATUS_OK && !features.has_animation &&
      static_cast<uint64_t>(features.width) * features.height > vpipe::kRowByRowPixels) {
    limit = vpipe::DecodeOptions{}.max_pixels;
  }
  return vpipe::fuzz::fuzz_decode(data, size, {vpipe::ImageFormat::kWebp}, limit);
}
