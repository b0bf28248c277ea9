#pragma once

// Private to vpipe_codec.

#include <cstdint>

namespace vpipe {

/// Calls heif_init once per process (thread-safe), so libheif registers its codecs, then
/// registers vpipe's AV1 plugin above libheif's own (heif_av1.cpp). Never de-initialised:
/// libheif's registry lives until exit.
void ensure_heif_initialised();

/// Registers vpipe's AV1 decoder plugin with libheif (heif_av1.cpp); once, after heif_init.
void register_heif_av1_plugin();

/// While alive, an AV1 frame coded larger than `max_pixels` is refused by vpipe's plugin on this
/// thread (decode_heif sets it from the file's declared size). Outside any scope the plugin
/// refuses frames over 200 megapixels.
class HeifCodedLimitScope {
 public:
  explicit HeifCodedLimitScope(uint64_t max_pixels);
  ~HeifCodedLimitScope();
  HeifCodedLimitScope(const HeifCodedLimitScope&) = delete;
  HeifCodedLimitScope& operator=(const HeifCodedLimitScope&) = delete;

 private:
  uint64_t previous_;
};

}  // namespace vpipe
