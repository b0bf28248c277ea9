// The LibTorch backend's side in vpipe_infer: finds the plugin libvpipe_torch.so (built from
// torch_backend.cpp when the build has LibTorch) and loads it the first time a TorchScript model
// is loaded, so that processes which never run one do not pay LibTorch's start-up.
#include <dlfcn.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/core/log.h"
#include "vpipe/infer/backend.h"
#include "vpipe/infer/models.h"

namespace vpipe::detail {

#ifdef VPIPE_HAVE_LIBTORCH

namespace {

using NoteFn = void (*)(const char* text);
using LoadFn = Backend* (*)(const std::filesystem::path*, const BackendOptions*, NoteFn);

constexpr const char* kEntryPoint = "vpipe_libtorch_load_v2";

/// Where the plugin's notes go (a fallback it took, once per backend): the library's logger.
void log_note(const char* text) { log().warn("{}", text); }

constexpr const char* kPluginName = "libvpipe_torch.so";

/// Where the plugin may be, first found wins: $VPIPE_LIBTORCH_PLUGIN (a file); beside the
/// running executable, or in ../lib/vpipe from it (an installed layout); the build tree.
std::vector<std::filesystem::path> plugin_candidates() {
  std::vector<std::filesystem::path> candidates;
  if (const char* env = std::getenv("VPIPE_LIBTORCH_PLUGIN"); env != nullptr && *env != '\0') {
    candidates.emplace_back(env);
    return candidates;
  }
  if (const auto exe_dir = executable_dir()) {
    candidates.push_back(*exe_dir / kPluginName);
    candidates.push_back(*exe_dir / ".." / "lib" / "vpipe" / kPluginName);
  }
  candidates.emplace_back(VPIPE_LIBTORCH_PLUGIN_PATH);
  return candidates;
}

struct Plugin {
  LoadFn load = nullptr;
  std::string error;  ///< why it could not be loaded, when load is null
};

/// Loads the plugin once per process; never unloaded, since backends it made may outlive any
/// caller.
const Plugin& plugin() {
  static const Plugin loaded = [] {
    Plugin p;
    std::string tried;
    for (const std::filesystem::path& candidate : plugin_candidates()) {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(candidate, ec)) {
        tried += fmt::format("{}'{}' (missing)", tried.empty() ? "" : ", ", candidate.string());
        continue;
      }
      void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle == nullptr) {
        const char* why = dlerror();
        p.error = fmt::format("the LibTorch plugin '{}' cannot be loaded: {}", candidate.string(),
                              why != nullptr ? why : "unknown reason");
        return p;
      }
      p.load = reinterpret_cast<LoadFn>(dlsym(handle, kEntryPoint));
      if (p.load == nullptr) {
        p.error = fmt::format(
            "'{}' is not this vpipe's LibTorch plugin (no {}; a plugin from another vpipe "
            "version?)",
            candidate.string(), kEntryPoint);
      }
      return p;
    }
    p.error = fmt::format("the LibTorch plugin {} is not found (tried {}; set "
                          "VPIPE_LIBTORCH_PLUGIN to its path)",
                          kPluginName, tried);
    return p;
  }();
  return loaded;
}

}  // namespace

bool libtorch_built() { return true; }

std::unique_ptr<Backend> load_libtorch(const std::filesystem::path& model,
                                       const BackendOptions& options) {
  const Plugin& p = plugin();
  if (p.load == nullptr) {
    throw ConfigError(fmt::format("model '{}': {}", model.string(), p.error));
  }
  return std::unique_ptr<Backend>(p.load(&model, &options, &log_note));
}

#else  // no LibTorch in this build

bool libtorch_built() { return false; }

std::unique_ptr<Backend> load_libtorch(const std::filesystem::path& model, const BackendOptions&) {
  throw ConfigError(fmt::format(
      "model '{}': this vpipe was built without LibTorch (install libtorch-dev and rebuild)",
      model.string()));
}

#endif

}  // namespace vpipe::detail
