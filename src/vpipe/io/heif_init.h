#pragma once

// Private to vpipe_codec.

namespace vpipe {

/// Calls heif_init once per process (thread-safe), so libheif registers its codecs. Never
/// de-initialised: libheif's registry lives until exit.
void ensure_heif_initialised();

}  // namespace vpipe
