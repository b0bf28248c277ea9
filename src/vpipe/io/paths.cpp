#include "vpipe/io/paths.h"

#include <cstdlib>
#include <memory>
#include <system_error>

#include "vpipe/core/error.h"
#include "vpipe/core/text.h"

namespace vpipe {
namespace fs = std::filesystem;
namespace {

std::string strip_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

std::string real_path(const std::string& path) {
  struct FreeDeleter {
    void operator()(char* p) const { std::free(p); }
  };
  const std::unique_ptr<char, FreeDeleter> resolved(::realpath(path.c_str(), nullptr));
  return resolved ? std::string(resolved.get()) : std::string();
}

fs::path current_directory() {
  std::error_code ec;
  fs::path cwd = fs::current_path(ec);
  if (ec) throw IoError("cannot read the current directory: " + ec.message());
  return cwd;
}

std::string absolute_normal(std::string_view path, const fs::path& base) {
  if (path.empty()) return {};
  fs::path p{std::string(path)};
  if (p.is_relative()) p = (base.empty() ? current_directory() : base) / p;
  return strip_trailing_slashes(p.lexically_normal().native());
}

std::string absolute_directory(std::string_view dir) {
  if (dir.empty()) return {};
  const std::string absolute = absolute_normal(dir);
  std::error_code ec;
  const fs::path resolved = fs::weakly_canonical(absolute, ec);
  if (ec) return absolute;
  return strip_trailing_slashes(resolved.lexically_normal().native());
}

StoredPathResolver::StoredPathResolver(fs::path base) : base_(std::move(base)) {}

std::string StoredPathResolver::resolve(std::string_view path) {
  if (path.empty()) return {};
  // Absolute but not yet normal: realpath sees the directory as named, so "link/../x" is what
  // the file system says it is, not what the letters say.
  std::string absolute = std::string(path);
  if (absolute.front() != '/') {
    absolute = ((base_.empty() ? current_directory() : base_) / absolute).native();
  }
  absolute = strip_trailing_slashes(std::move(absolute));
  const size_t slash = absolute.rfind('/');
  const std::string name = absolute.substr(slash + 1);
  if (name.empty() || name == "." || name == "..") return absolute_normal(absolute);
  const std::string dir = slash == 0 ? "/" : absolute.substr(0, slash);

  auto it = directories_.find(dir);
  if (it == directories_.end()) {
    if (directories_.size() >= kMaxCachedDirectories) directories_.clear();
    std::string resolved = real_path(dir);
    if (resolved.empty()) {
      // Missing as named; "a/missing/.." may still exist as its letters say.
      const std::string normal = absolute_normal(dir);
      resolved = real_path(normal);
      if (resolved.empty()) resolved = normal;
    }
    it = directories_.emplace(dir, std::move(resolved)).first;
  }
  const std::string& resolved_dir = it->second;
  return resolved_dir == "/" ? "/" + name : resolved_dir + "/" + name;
}

std::string display_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return terminal_safe(path);
  std::error_code ec;
  const std::string cwd = fs::current_path(ec).native();
  if (ec || cwd.empty() || cwd == "/") return terminal_safe(path);
  if (path == cwd) return ".";
  if (path.size() > cwd.size() && path.starts_with(cwd) && path[cwd.size()] == '/') {
    return terminal_safe(path.substr(cwd.size() + 1));
  }
  return terminal_safe(path);
}

}  // namespace vpipe
