#pragma once

#include <stdexcept>
#include <string>

namespace vpipe {

/// Base of every error that ends a run (STYLE.md, errors of the second kind): bad config,
/// missing model, unwritable output. The message is meant for the user and names what to fix.
/// Expected per-item failures are never thrown as Error; they are an item's status.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// A configuration or command-line value is invalid.
class ConfigError : public Error {
 public:
  using Error::Error;
};

/// A file or directory that the run needs cannot be read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

/// The manifest database cannot be opened, migrated or written.
class ManifestError : public Error {
 public:
  using Error::Error;
};

/// A CUDA call failed.
class CudaError : public Error {
 public:
  using Error::Error;
};

/// Thrown by a stage function to fail the items it was given without ending the run: the
/// engine marks each item of the batch with this message and lets them flow on.
class ItemError : public std::runtime_error {
 public:
  explicit ItemError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace vpipe
