// The LibTorch backend against PyTorch itself: tests/fixtures/make_tiny_torchscript.py (run with
// Debian's python3-torch) writes tiny TorchScript networks, an input batch and the outputs PyTorch
// computes for it; the backend must reproduce them.
#include "vpipe/infer/backend.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "vpipe/core/error.h"
#include "vpipe/infer/model.h"
#include "vpipe/infer/torch_errors.h"

namespace vpipe {
namespace {

namespace fs = std::filesystem;

constexpr float kTolerance = 1e-5F;
// What make_tiny_torchscript.py exits with when the Python it runs under has no torch.
constexpr int kNoTorchInPython = 77;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Raw little-endian float32 (the fixture's format; this test runs on little-endian hosts).
std::vector<float> read_f32(const fs::path& path) {
  const std::string bytes = read_bytes(path);
  std::vector<float> values(bytes.size() / sizeof(float));
  std::memcpy(values.data(), bytes.data(), values.size() * sizeof(float));
  return values;
}

/// 64-bit FNV-1a: names the fixture cache after the script's content, so an edited script
/// regenerates its fixtures.
uint64_t fnv1a(const std::string& bytes) {
  uint64_t h = 14695981039346656037ULL;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

/// The fixtures, generated once per build tree and script version (about 4 s of Python), since
/// ctest runs every test of this file in a process of its own.
struct Fixtures {
  fs::path dir;
  std::map<std::string, std::vector<int64_t>> shapes;  ///< stem of a .f32 file -> its shape
  std::string skip;                                     ///< why the tests cannot run, if so
  std::string error;                                    ///< why generating them failed, if so
};

Fixtures make_fixtures() {
  Fixtures f;
  const fs::path script = VPIPE_TORCH_FIXTURE_SCRIPT;
  const fs::path python = VPIPE_FIXTURE_PYTHON;
  std::error_code ec;
  if (!fs::exists(python, ec)) {
    f.skip = fmt::format("{} is missing (install python3-torch)", python.string());
    return f;
  }
  f.dir = fs::path(VPIPE_BINARY_DIR) / "test-fixtures" /
          fmt::format("torchscript-{:016x}", fnv1a(read_bytes(script)));
  if (!fs::exists(f.dir / "shapes.txt", ec)) {
    // Written beside the cache and renamed into place, so a concurrent test process sees
    // either nothing or the whole set.
    const fs::path tmp = f.dir.string() + fmt::format(".tmp-{}", ::getpid());
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp, ec);
    const std::string command = fmt::format("'{}' '{}' '{}' > '{}/log.txt' 2>&1", python.string(),
                                            script.string(), tmp.string(), tmp.string());
    const int status = std::system(command.c_str());
    const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (rc == kNoTorchInPython) {
      f.skip = fmt::format("{} cannot import torch (install python3-torch)", python.string());
      fs::remove_all(tmp, ec);
      return f;
    }
    if (rc != 0) {
      f.error = fmt::format("'{}' failed ({}): {}", command, rc, read_bytes(tmp / "log.txt"));
      return f;
    }
    fs::rename(tmp, f.dir, ec);
    if (ec) fs::remove_all(tmp, ec);  // another process got there first: use its copy
  }
  std::ifstream shapes(f.dir / "shapes.txt");
  std::string line;
  while (std::getline(shapes, line)) {
    std::istringstream words(line);
    std::string stem;
    words >> stem;
    std::vector<int64_t> dims;
    for (int64_t d = 0; words >> d;) dims.push_back(d);
    f.shapes[stem] = dims;
  }
  if (f.shapes.count("input") == 0) f.error = "no shapes.txt in " + f.dir.string();
  return f;
}

/// Whether LibTorch is mapped into this process.
bool libtorch_mapped() {
  std::ifstream maps("/proc/self/maps");
  const std::string text{std::istreambuf_iterator<char>(maps), std::istreambuf_iterator<char>()};
  return text.find("libtorch") != std::string::npos;
}

// Read at static initialisation, before any test has loaded a model.
const bool kLibTorchMappedAtStart = libtorch_mapped();

const Fixtures& fixtures() {
  static const Fixtures f = make_fixtures();
  return f;
}

class TorchBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!backend_available(BackendKind::kLibTorch, &why)) GTEST_SKIP() << why;
    const Fixtures& f = fixtures();
    if (!f.skip.empty()) GTEST_SKIP() << f.skip;
    ASSERT_TRUE(f.error.empty()) << f.error;
    input_ = read_f32(f.dir / "input.f32");
    input_shape_ = f.shapes.at("input");
    ASSERT_EQ(input_shape_, (std::vector<int64_t>{3, 3, 16, 16}));
    ASSERT_EQ(input_.size(), 3U * 3 * 16 * 16);
  }

  static fs::path model(const std::string& name) { return fixtures().dir / (name + ".pt"); }

  /// Asserts that `actual` is output `k` of network `name` as PyTorch computed it.
  static void expect_matches_python(const Tensor& actual, const std::string& name, int k) {
    const std::string stem = fmt::format("{}.{}", name, k);
    const std::vector<float> expected = read_f32(fixtures().dir / (stem + ".f32"));
    EXPECT_EQ(actual.shape, fixtures().shapes.at(stem)) << stem;
    ASSERT_EQ(actual.data.size(), expected.size()) << stem;
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_NEAR(actual.data[i], expected[i], kTolerance) << stem << " value " << i;
    }
  }

  std::vector<float> input_;
  std::vector<int64_t> input_shape_;
};

TEST(BackendForFile, MapsExtensionsToBackends) {
  EXPECT_EQ(backend_for_file("a/net.pt"), BackendKind::kLibTorch);
  EXPECT_EQ(backend_for_file("a/net.PT"), BackendKind::kLibTorch);
  EXPECT_EQ(backend_for_file("a/net.pth"), BackendKind::kLibTorch);
  EXPECT_EQ(backend_for_file("net.torchscript"), BackendKind::kLibTorch);
  EXPECT_EQ(backend_for_file("net.ts"), BackendKind::kLibTorch);
  EXPECT_EQ(backend_for_file("net.onnx"), BackendKind::kOpenCvDnn);
  try {
    (void)backend_for_file("models/readme.txt");
    FAIL() << "a .txt file was given a backend";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("models/readme.txt"), std::string::npos) << e.what();
  }
  EXPECT_THROW((void)backend_for_file("net"), ConfigError);
}

TEST(ResolvePrecision, AutoIsHalfOnAGpuAndFloatElsewhere) {
  EXPECT_EQ(resolve_precision("auto", Device::cuda(1)), "fp16");
  EXPECT_EQ(resolve_precision("auto", Device::cuda(0)), "fp16");
  EXPECT_EQ(resolve_precision("auto", Device::cpu()), "fp32");
  // An explicit choice is passed on; the backend refuses what it cannot run.
  EXPECT_EQ(resolve_precision("bf16", Device::cuda(0)), "bf16");
  EXPECT_EQ(resolve_precision("fp16", Device::cpu()), "fp16");
}

TEST(LibTorchAvailability, SaysWhatIsMissingOrLoadsNothingAbsent) {
  std::string why;
  if (!backend_available(BackendKind::kLibTorch, &why)) {
    // A build without LibTorch says what to install, and so does loading a model on it.
    EXPECT_NE(why.find("libtorch-dev"), std::string::npos) << why;
    try {
      (void)load_backend("net.pt", BackendKind::kLibTorch);
      FAIL() << "loaded a TorchScript file without LibTorch";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("libtorch-dev"), std::string::npos) << e.what();
    }
    return;
  }
  EXPECT_TRUE(why.empty()) << why;
  try {
    (void)load_backend("no/such/net.pt", BackendKind::kLibTorch);
    FAIL() << "loaded a file that does not exist";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no/such/net.pt"), std::string::npos) << e.what();
  }
}

TEST(LibTorchAvailability, LibTorchIsNotLoadedAtStartUp) {
  // vpipe_infer dlopens the LibTorch plugin with the first TorchScript model: a process that
  // runs none does not pay LibTorch's start-up.
  EXPECT_FALSE(kLibTorchMappedAtStart);
}

TEST(LibTorchAvailability, GarbageFileIsAConfigErrorNamingIt) {
  std::string why;
  if (!backend_available(BackendKind::kLibTorch, &why)) GTEST_SKIP() << why;
  const fs::path garbage =
      fs::temp_directory_path() / fmt::format("vpipe-garbage-{}.pt", ::getpid());
  {
    std::ofstream out(garbage, std::ios::binary);
    out << "this is not a TorchScript archive, nor any zip file";
  }
  try {
    (void)load_backend(garbage, BackendKind::kLibTorch);
    ADD_FAILURE() << "loaded a garbage file";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(garbage.string()), std::string::npos) << e.what();
  }
  std::error_code ec;
  fs::remove(garbage, ec);
}

TEST_F(TorchBackendTest, ConvNetMatchesPyTorch) {
  const std::unique_ptr<Backend> backend = load_backend(model("convnet"), BackendKind::kLibTorch);
  EXPECT_EQ(backend->kind(), BackendKind::kLibTorch);
  EXPECT_EQ(backend->device(), Device::cpu());
  EXPECT_TRUE(libtorch_mapped());
  const std::vector<Tensor> out = backend->infer(input_, input_shape_);
  ASSERT_EQ(out.size(), 1U);
  expect_matches_python(out[0], "convnet", 0);
  // Twice on the same backend: the second run (TorchScript's optimised one) agrees too.
  const std::vector<Tensor> again = backend->infer(input_, input_shape_);
  ASSERT_EQ(again.size(), 1U);
  expect_matches_python(again[0], "convnet", 0);
}

TEST_F(TorchBackendTest, OneThreadGivesTheSameValues) {
  BackendOptions options;
  options.threads = 1;
  const std::unique_ptr<Backend> backend =
      load_backend(model("convnet"), BackendKind::kLibTorch, options);
  const std::vector<Tensor> out = backend->infer(input_, input_shape_);
  ASSERT_EQ(out.size(), 1U);
  expect_matches_python(out[0], "convnet", 0);
}

TEST_F(TorchBackendTest, BatchOfThreeEqualsImagesOneByOne) {
  const std::unique_ptr<Backend> backend = load_backend(model("convnet"), BackendKind::kLibTorch);
  const std::vector<Tensor> batch = backend->infer(input_, input_shape_);
  ASSERT_EQ(batch.size(), 1U);
  ASSERT_EQ(batch[0].shape, (std::vector<int64_t>{3, 5}));
  const size_t per_image = input_.size() / 3;
  const std::vector<int64_t> one{1, 3, 16, 16};
  for (size_t b = 0; b < 3; ++b) {
    const std::vector<Tensor> single =
        backend->infer(std::span<const float>(input_).subspan(b * per_image, per_image), one);
    ASSERT_EQ(single.size(), 1U);
    ASSERT_EQ(single[0].shape, (std::vector<int64_t>{1, 5}));
    for (size_t i = 0; i < 5; ++i) {
      EXPECT_NEAR(single[0].data[i], batch[0].data[b * 5 + i], kTolerance)
          << "image " << b << " logit " << i;
    }
  }
}

TEST_F(TorchBackendTest, TupleOutputGivesBothTensorsInOrder) {
  const std::unique_ptr<Backend> backend = load_backend(model("tuple"), BackendKind::kLibTorch);
  const std::vector<Tensor> out = backend->infer(input_, input_shape_);
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{3, 2, 16, 16}));
  EXPECT_EQ(out[1].shape, (std::vector<int64_t>{3, 3}));
  expect_matches_python(out[0], "tuple", 0);
  expect_matches_python(out[1], "tuple", 1);
}

TEST_F(TorchBackendTest, DictOutputGivesItsValuesInInsertionOrder) {
  // The network inserts "scores" [N,5] before "boxes" [N,4], against alphabetical order.
  const std::unique_ptr<Backend> backend = load_backend(model("dict"), BackendKind::kLibTorch);
  const std::vector<Tensor> out = backend->infer(input_, input_shape_);
  ASSERT_EQ(out.size(), 2U);
  EXPECT_EQ(out[0].shape, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(out[1].shape, (std::vector<int64_t>{3, 4}));
  expect_matches_python(out[0], "dict", 0);
  expect_matches_python(out[1], "dict", 1);
}

TEST_F(TorchBackendTest, BatchDimensionDroppedForOneImageComesBack) {
  // squeeze.pt returns logits.squeeze(0): [5] for one image.
  const std::unique_ptr<Backend> backend = load_backend(model("squeeze"), BackendKind::kLibTorch);
  const std::vector<Tensor> batch = backend->infer(input_, input_shape_);
  ASSERT_EQ(batch.size(), 1U);
  expect_matches_python(batch[0], "squeeze", 0);
  const std::vector<float> expected = read_f32(fixtures().dir / "convnet.0.f32");
  const std::vector<int64_t> one{1, 3, 16, 16};
  const std::vector<Tensor> single =
      backend->infer(std::span<const float>(input_).first(input_.size() / 3), one);
  ASSERT_EQ(single.size(), 1U);
  EXPECT_EQ(single[0].shape, (std::vector<int64_t>{1, 5}));
  ASSERT_EQ(single[0].data.size(), 5U);
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(single[0].data[i], expected[i], kTolerance);
}

TEST_F(TorchBackendTest, RefusedInputIsAnItemErrorNamingFileAndShape) {
  const fs::path path = model("convnet");
  const std::unique_ptr<Backend> backend = load_backend(path, BackendKind::kLibTorch);
  // Four channels where the convolution wants three.
  const std::vector<float> four_channels(4 * 16 * 16, 0.5F);
  const std::vector<int64_t> shape{1, 4, 16, 16};
  try {
    (void)backend->infer(four_channels, shape);
    FAIL() << "a 4-channel input went through a 3-channel convolution";
  } catch (const ItemError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find("[1, 4, 16, 16]"), std::string::npos) << message;
    // One line (not the TorchScript interpreter's traceback): it is stored with each image.
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  // A shape that does not match the number of values given.
  const std::vector<int64_t> too_big{2, 3, 16, 16};
  EXPECT_THROW((void)backend->infer(std::span<const float>(input_).first(768), too_big),
               ItemError);
  // The backend still works after refusing a batch.
  const std::vector<Tensor> out = backend->infer(input_, input_shape_);
  ASSERT_EQ(out.size(), 1U);
  expect_matches_python(out[0], "convnet", 0);
}

TEST_F(TorchBackendTest, DevicesOtherThanTheCpu) {
  const fs::path path = model("convnet");
  BackendOptions options;
  // A device name the user mistyped ("tpu") is refused where it is parsed (devices_test); a
  // device LibTorch cannot reach is refused here, naming the model and the device.
  options.device = Device::cuda(99);
  try {
    (void)load_backend(path, BackendKind::kLibTorch, options);
    FAIL() << "device 'cuda:99' accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cuda:99"), std::string::npos) << e.what();
  }

  // cuda:0: refused with a reason on a CPU-only LibTorch; on a CUDA one, the same values as
  // PyTorch on the CPU (to GPU rounding: TF32, on by default, is off for this comparison).
  options.device = Device::cuda(0);
  options.tf32 = false;
  std::unique_ptr<Backend> backend;
  try {
    backend = load_backend(path, BackendKind::kLibTorch, options);
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'cuda:0'"), std::string::npos) << e.what();
    return;
  }
  EXPECT_EQ(backend->device(), Device::cuda(0));
  const std::vector<Tensor> out = backend->infer(input_, input_shape_);
  ASSERT_EQ(out.size(), 1U);
  ASSERT_EQ(out[0].shape, (std::vector<int64_t>{3, 5}));
  const std::vector<float> expected = read_f32(fixtures().dir / "convnet.0.f32");
  ASSERT_EQ(out[0].data.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(out[0].data[i], expected[i], 1e-4F);
}

TEST_F(TorchBackendTest, DefaultOptionsRunFloat32WithoutWarmUpOnTheCpu) {
  const BackendOptions defaults;
  EXPECT_EQ(defaults.precision, "fp32");
  EXPECT_TRUE(defaults.cudnn_benchmark);
  EXPECT_TRUE(defaults.tf32);
  EXPECT_EQ(defaults.warmup_batches, -1);
  EXPECT_FALSE(defaults.cuda_graphs);
  const std::unique_ptr<Backend> backend = load_backend(model("convnet"), BackendKind::kLibTorch);
  EXPECT_EQ(backend->precision(), "fp32");
}

TEST_F(TorchBackendTest, HalfPrecisionOnTheCpuIsAConfigErrorNamingTheModel) {
  const fs::path path = model("convnet");
  for (const std::string precision : {"fp16", "bf16"}) {
    BackendOptions options;
    options.precision = precision;
    try {
      (void)load_backend(path, BackendKind::kLibTorch, options);
      ADD_FAILURE() << precision << " accepted on the CPU";
    } catch (const ConfigError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(path.string()), std::string::npos) << message;
      EXPECT_NE(message.find(precision), std::string::npos) << message;
      EXPECT_NE(message.find("CUDA"), std::string::npos) << message;
    }
  }
  BackendOptions options;
  options.precision = "int8";
  try {
    (void)load_backend(path, BackendKind::kLibTorch, options);
    ADD_FAILURE() << "precision 'int8' accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("int8"), std::string::npos) << e.what();
  }
}

TEST_F(TorchBackendTest, CudaOnlyOptionsAreIgnoredOnTheCpu) {
  // cudnn_benchmark, tf32 and cuda_graphs concern CUDA alone: the CPU results stay PyTorch's.
  BackendOptions options;
  options.cudnn_benchmark = false;
  options.tf32 = false;
  options.cuda_graphs = true;
  const std::unique_ptr<Backend> backend =
      load_backend(model("convnet"), BackendKind::kLibTorch, options);
  for (int run = 0; run < 2; ++run) {
    const std::vector<Tensor> out = backend->infer(input_, input_shape_);
    ASSERT_EQ(out.size(), 1U);
    expect_matches_python(out[0], "convnet", 0);
  }
}

TEST_F(TorchBackendTest, WarmUpDoesNotChangeTheOutputs) {
  BackendOptions cold;
  cold.warmup_batches = 0;
  BackendOptions warm;
  warm.warmup_batches = 2;
  const std::unique_ptr<Backend> a = load_backend(model("convnet"), BackendKind::kLibTorch, cold);
  const std::unique_ptr<Backend> b = load_backend(model("convnet"), BackendKind::kLibTorch, warm);
  const std::vector<int64_t> one{1, 3, 16, 16};
  const std::span<const float> first = std::span<const float>(input_).first(input_.size() / 3);
  // Two shapes, each new to the warm backend once, then again: bit-identical each time.
  for (int round = 0; round < 2; ++round) {
    const std::vector<Tensor> batch_a = a->infer(input_, input_shape_);
    const std::vector<Tensor> batch_b = b->infer(input_, input_shape_);
    ASSERT_EQ(batch_a.size(), 1U);
    ASSERT_EQ(batch_b.size(), 1U);
    EXPECT_EQ(batch_a[0].shape, batch_b[0].shape);
    EXPECT_EQ(batch_a[0].data, batch_b[0].data) << "round " << round;
    expect_matches_python(batch_b[0], "convnet", 0);
    const std::vector<Tensor> single_a = a->infer(first, one);
    const std::vector<Tensor> single_b = b->infer(first, one);
    ASSERT_EQ(single_a.size(), 1U);
    ASSERT_EQ(single_b.size(), 1U);
    EXPECT_EQ(single_a[0].data, single_b[0].data) << "round " << round;
  }
}

TEST_F(TorchBackendTest, OutOfMemoryInsideTheNetworkIsDeviceOutOfMemory) {
  // oom.pt raises PyTorch 2.x's CUDA out-of-memory message from inside TorchScript, where it
  // arrives wrapped in the interpreter's traceback, as a real allocation failure on a GPU would.
  const fs::path path = model("oom");
  const std::unique_ptr<Backend> backend = load_backend(path, BackendKind::kLibTorch);
  try {
    (void)backend->infer(input_, input_shape_);
    FAIL() << "oom.pt returned";
  } catch (const DeviceOutOfMemory& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(path.string()), std::string::npos) << message;
    EXPECT_NE(message.find("batch of 3"), std::string::npos) << message;
    EXPECT_NE(message.find("CUDA out of memory"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  // Any other refusal stays an ItemError (tested above); DeviceOutOfMemory is not one.
  EXPECT_THROW((void)backend->infer(input_, input_shape_), CudaError);
}

/// Loads `name` on "cuda" with `options`, or none (the caller skips) where LibTorch sees no CUDA
/// device, as on Debian's CPU-only LibTorch.
std::unique_ptr<Backend> load_on_cuda(const fs::path& path, BackendOptions options,
                                      std::string* why) {
  options.device = Device::cuda(0);
  try {
    return load_backend(path, BackendKind::kLibTorch, options);
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    if (message.find("sees no CUDA device") == std::string::npos) throw;
    *why = message;
    return nullptr;
  }
}

TEST_F(TorchBackendTest, HalfPrecisionOnCudaIsCloseToFloat32) {
  std::string why;
  BackendOptions options;
  options.tf32 = false;
  const std::unique_ptr<Backend> fp32 = load_on_cuda(model("convnet"), options, &why);
  if (fp32 == nullptr) GTEST_SKIP() << why;
  const std::vector<float> expected = read_f32(fixtures().dir / "convnet.0.f32");
  for (const std::string precision : {"fp16", "bf16"}) {
    options.precision = precision;
    const std::unique_ptr<Backend> half = load_on_cuda(model("convnet"), options, &why);
    ASSERT_NE(half, nullptr) << why;
    EXPECT_EQ(half->precision(), precision);
    const std::vector<Tensor> out = half->infer(input_, input_shape_);
    ASSERT_EQ(out.size(), 1U);
    ASSERT_EQ(out[0].shape, (std::vector<int64_t>{3, 5}));
    ASSERT_EQ(out[0].data.size(), expected.size());
    // bf16 keeps 8 bits of mantissa: ~4e-3 relative; the logits here are below 1.
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_NEAR(out[0].data[i], expected[i], 2e-2F) << precision << " value " << i;
    }
  }
}

TEST_F(TorchBackendTest, CudaGraphsGiveTheEagerValues) {
  std::string why;
  BackendOptions eager_options;
  eager_options.tf32 = false;
  eager_options.cudnn_benchmark = false;
  const std::unique_ptr<Backend> eager = load_on_cuda(model("convnet"), eager_options, &why);
  if (eager == nullptr) GTEST_SKIP() << why;
  BackendOptions graph_options = eager_options;
  graph_options.cuda_graphs = true;
  const std::unique_ptr<Backend> graphed = load_on_cuda(model("convnet"), graph_options, &why);
  ASSERT_NE(graphed, nullptr) << why;
  const std::vector<int64_t> one{1, 3, 16, 16};
  const size_t per_image = input_.size() / 3;
  // The same shape replayed with different inputs: the graph reads each batch's input.
  for (size_t b = 0; b < 3; ++b) {
    const std::span<const float> image = std::span<const float>(input_).subspan(b * per_image,
                                                                                 per_image);
    const std::vector<Tensor> want = eager->infer(image, one);
    const std::vector<Tensor> got = graphed->infer(image, one);
    ASSERT_EQ(want.size(), 1U);
    ASSERT_EQ(got.size(), 1U);
    ASSERT_EQ(got[0].data.size(), want[0].data.size());
    for (size_t i = 0; i < want[0].data.size(); ++i) {
      EXPECT_NEAR(got[0].data[i], want[0].data[i], 1e-5F) << "image " << b << " value " << i;
    }
  }
}

TEST(CudaOutOfMemoryMessage, RecognisesLibTorchsWordingsOfBothVersions) {
  // LibTorch 1.13's caching allocator.
  EXPECT_TRUE(detail::is_cuda_oom_message(
      "CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 15.78 GiB total capacity; "
      "14.50 GiB already allocated; 11.19 MiB free; 14.70 GiB reserved in total by PyTorch) If "
      "reserved memory is >> allocated memory try setting max_split_size_mb to avoid "
      "fragmentation."));
  // LibTorch 2.x's.
  EXPECT_TRUE(detail::is_cuda_oom_message(
      "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.15 GiB "
      "of which 1.06 GiB is free. Including non-PyTorch memory, this process has 78.08 GiB "
      "memory in use."));
  // Wrapped by the TorchScript interpreter: the reason comes last.
  EXPECT_TRUE(detail::is_cuda_oom_message(
      "The following operation failed in the TorchScript interpreter.\nTraceback of "
      "TorchScript (most recent call last):\n  File \"code/__torch__.py\", line 9, in forward\n"
      "RuntimeError: CUDA out of memory. Tried to allocate 512.00 MiB."));
  // A CUDA runtime call (C10_CUDA_CHECK), cuBLAS and cuDNN handles.
  EXPECT_TRUE(detail::is_cuda_oom_message(
      "CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported at some "
      "other API call, so the stacktrace below might be incorrect."));
  EXPECT_TRUE(detail::is_cuda_oom_message(
      "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"));
  EXPECT_TRUE(detail::is_cuda_oom_message("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"));
  // Not memory: a shape error, a CPU allocation failure, another CUDA error.
  EXPECT_FALSE(detail::is_cuda_oom_message(
      "Given groups=1, weight of size [4, 3, 3, 3], expected input[1, 4, 16, 16] to have 3 "
      "channels, but got 4 channels instead"));
  EXPECT_FALSE(detail::is_cuda_oom_message(
      "[enforce fail at alloc_cpu.cpp:75] err == 0. DefaultCPUAllocator: can't allocate memory: "
      "you tried to allocate 1099511627776 bytes. Error code 12 (Cannot allocate memory)"));
  EXPECT_FALSE(detail::is_cuda_oom_message("CUDA error: an illegal memory access was encountered"));
  EXPECT_FALSE(detail::is_cuda_oom_message(""));
}

// A user's YOLO export through the whole model path: resolve_model (--format, --input), the
// LibTorch backend, decoding, NMS and the letterbox mapped back to the image's pixels.
TEST_F(TorchBackendTest, UserYoloExportsDecodeThroughTheLetterbox) {
  for (const std::string format : {"yolov8", "yolov5"}) {
    ModelRequest request;
    request.model = model(format).string();
    request.format = parse_output_format(format);
    request.input = 64;
    const ModelSpec spec = resolve_model(request);
    EXPECT_EQ(spec.name, format);
    std::unique_ptr<Model> m = load_model(spec);
    // 128 x 64 into 64 x 64: scale 0.5, the image 64 x 32 at pad_y = 16.
    Image image(128, 64, 3);
    ModelInput a;
    ModelInput b;
    m->prepare(image, a);
    m->prepare(image, b);
    ModelInput* batch[] = {&a, &b};
    m->infer(batch);
    for (const ModelInput* in : batch) {
      const std::vector<Prediction> found = m->decode(*in);
      // Box B is suppressed by A (same class, IoU 0.9), C is under the 0.25 threshold.
      ASSERT_EQ(found.size(), 1U) << format;
      EXPECT_EQ(found[0].class_id, 1);
      EXPECT_NEAR(found[0].score, 0.9F, 1e-6);
      // A is (22, 27)-(42, 37) in the model's input: ((x - 0) / 0.5, (y - 16) / 0.5).
      EXPECT_NEAR(found[0].box.x1, 44.0F, 1e-4);
      EXPECT_NEAR(found[0].box.y1, 22.0F, 1e-4);
      EXPECT_NEAR(found[0].box.x2, 84.0F, 1e-4);
      EXPECT_NEAR(found[0].box.y2, 42.0F, 1e-4);
    }
  }
}

}  // namespace
}  // namespace vpipe
