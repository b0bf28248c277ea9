// libFuzzer target: the HEIF/HEIC and AVIF decoder (libheif), through Decoder::decode
// (vpipe/io/decode.h).

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return vpipe::fuzz::fuzz_decode(data, size,
                                  {vpipe::ImageFormat::kHeif, vpipe::ImageFormat::kAvif});
}
