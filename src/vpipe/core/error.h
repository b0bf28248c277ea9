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

/// The command line itself is wrong: an unknown value of an option, a file argument that does
/// not exist. The CLI exits with 2, like its parser's own errors (docs/CLI.md, "Exit codes").
class UsageError : public ConfigError {
 public:
  using ConfigError::ConfigError;
};

/// What the run needs is held by another process, and it was asked not to wait (`--no-wait`).
/// The CLI exits with 75 (EX_TEMPFAIL): trying again later may succeed.
class LockBusy : public Error {
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

/// A device ran out of memory for one batch (a CUDA allocation failed, or a backend reported
/// "out of memory"). Not the end of a run: the stage that gets it halves its batch and tries
/// again (infer/batch_halving.h); only a batch of one that still does not fit fails, as an item.
class DeviceOutOfMemory : public CudaError {
 public:
  using CudaError::CudaError;
};

/// Thrown by a stage function to fail the items it was given without ending the run: the
/// engine marks each item of the batch with this message and lets them flow on.
class ItemError : public std::runtime_error {
 public:
  explicit ItemError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace vpipe
