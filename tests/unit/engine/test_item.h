#pragma once

#include <memory>
#include <string>

namespace vpipe::testing {

/// A pipeline item for the engine tests. Move-only (the payload), so any copy in the engine
/// fails to compile.
struct TestItem {
  int id = 0;
  std::unique_ptr<int> payload;
  int stages_seen = 0;
  std::string error;

  explicit TestItem(int item_id) : id(item_id), payload(std::make_unique<int>(item_id)) {}
  void fail(std::string message) { error = std::move(message); }
};

}  // namespace vpipe::testing
