// Throughput of pHash + dHash on the GPU (vpipe::cuda::perceptual_hashes, issue 7) against the
// CPU reference (phash_cpu + dhash_cpu, dedup/hashes.h) on all cores, on the same synthetic gray
// images: smooth, photo-like, sides drawn uniformly from [--min-side, --max-side] (the working
// images the scan hashes are up to about 256 px).
//
//   phash_cuda_bench [--n N] [--batch B] [--pool P] [--min-side S] [--max-side S] [--threads K]
//                    [--device cpu|cuda|both|cuda:N] [--seed S]
//
// N images are hashed each way, cycling through a pool of P distinct images (memory stays at
// about P * 25 KB whatever N is). The GPU side is timed over its perceptual_hashes calls alone,
// one batch of B images a call (the pixel buffers are assembled beforehand, as a stage would
// while the previous batch runs), after one warm-up call that pays module load and context
// creation. The first batch is checked against the CPU: dHash must match bit for bit, pHash
// may differ only in rare rounding bits (phash_cuda.h); the mismatching bits are printed.
// Prints one line per side: images/s, wall time, and for the GPU the batch size.
// Exit status: 0, 1 on a dHash mismatch, 3 when the GPU cannot run (no device or a build
// without CUDA: the CPU line is printed first either way).
#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "vpipe/core/image.h"
#include "vpipe/dedup/hashes.h"
#include "vpipe/dedup/cuda/phash_cuda.h"

namespace {

struct Args {
  size_t n = 100'000;
  size_t batch = 1024;
  size_t pool = 4096;
  int min_side = 64;
  int max_side = 256;
  int threads = 0;
  bool cpu = true;
  bool cuda = true;
  int device = 0;
  uint64_t seed = 1;
};

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr,
               "phash_cuda_bench: %s\nusage: phash_cuda_bench [--n N] [--batch B] [--pool P] "
               "[--min-side S] [--max-side S] [--threads K] [--device cpu|cuda|both|cuda:N] "
               "[--seed S]\n",
               message);
  std::exit(2);
}

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage("missing value");
    const char* value = argv[++i];
    if (flag == "--n") {
      args.n = std::strtoull(value, nullptr, 10);
    } else if (flag == "--batch") {
      args.batch = std::max<size_t>(1, std::strtoull(value, nullptr, 10));
    } else if (flag == "--pool") {
      args.pool = std::max<size_t>(1, std::strtoull(value, nullptr, 10));
    } else if (flag == "--min-side") {
      args.min_side = std::max(1, std::atoi(value));
    } else if (flag == "--max-side") {
      args.max_side = std::atoi(value);
    } else if (flag == "--threads") {
      args.threads = std::atoi(value);
    } else if (flag == "--seed") {
      args.seed = std::strtoull(value, nullptr, 10);
    } else if (flag == "--device") {
      const std::string_view d = value;
      args.cpu = d == "cpu" || d == "both";
      args.cuda = d != "cpu";
      if (d.starts_with("cuda:")) {
        args.device = std::atoi(value + 5);
      } else if (d != "cpu" && d != "cuda" && d != "both") {
        usage("unknown --device");
      }
    } else {
      usage("unknown flag");
    }
  }
  if (args.max_side < args.min_side) usage("--max-side is below --min-side");
  if (args.threads <= 0)
    args.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return args;
}

// Smooth, photo-like gray image: a few random low-frequency waves plus a little noise (random
// noise alone would put every DCT coefficient near the median).
vpipe::Image smooth_image(std::mt19937_64& rng, int width, int height) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  double w[8];
  for (double& x : w) x = unit(rng);
  vpipe::Image img(width, height, 1);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const double fx = static_cast<double>(x) / width;
      const double fy = static_cast<double>(y) / height;
      const double v = 128 + 50 * std::sin(6.3 * (w[0] * 3 * fx + w[1] * 3 * fy) + 6.3 * w[2]) +
                       30 * std::cos(6.3 * (w[3] * 5 * fx - w[4] * 4 * fy) + 6.3 * w[5]) +
                       20 * std::sin(6.3 * w[6] * 8 * fx * fy + 6.3 * w[7]) +
                       10 * (unit(rng) - 0.5);
      img.row(y)[x] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
    }
  }
  return img;
}

// One GPU call's input: the images concatenated (8-bit gray, tight rows) and a slot each.
struct Batch {
  std::vector<uint8_t> pixels;
  std::vector<vpipe::cuda::GrayImageSlot> slots;
};

double since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  std::mt19937_64 rng(args.seed);
  std::uniform_int_distribution<int> side(args.min_side, args.max_side);
  std::vector<vpipe::Image> pool;
  pool.reserve(args.pool);
  for (size_t i = 0; i < args.pool; ++i) {
    const int w = side(rng);
    pool.push_back(smooth_image(rng, w, side(rng)));
  }
  std::printf("phash_cuda_bench: %zu images (pool %zu, sides %d..%d px), %d CPU threads\n", args.n,
              args.pool, args.min_side, args.max_side, args.threads);

  // CPU: each worker takes the next image index; both hashes, as the GPU computes both.
  std::vector<uint64_t> cpu_phash(args.pool), cpu_dhash(args.pool);
  if (args.cpu) {
    std::atomic<size_t> next{0};
    std::atomic<uint64_t> checksum{0};
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < args.threads; ++t) {
      workers.emplace_back([&] {
        uint64_t local = 0;
        for (size_t i; (i = next.fetch_add(1)) < args.n;) {
          const vpipe::Image& img = pool[i % args.pool];
          const uint64_t p = vpipe::phash_cpu(img);
          const uint64_t d = vpipe::dhash_cpu(img);
          if (i < args.pool) {  // each pool slot is written by one worker only
            cpu_phash[i] = p;
            cpu_dhash[i] = d;
          }
          local ^= p ^ d;
        }
        checksum ^= local;
      });
    }
    for (auto& w : workers) w.join();
    const double seconds = since(start);
    std::printf("cpu  phash+dhash: %.0f images/s (%.3f s, %d threads)\n", args.n / seconds, seconds,
                args.threads);
  }
  if (!args.cuda) return 0;

  // GPU: batches over the pool, assembled up front; the timed loop cycles through them.
  std::vector<Batch> batches;
  for (size_t first = 0; first < args.pool; first += args.batch) {
    Batch b;
    for (size_t i = first; i < std::min(args.pool, first + args.batch); ++i) {
      const vpipe::Image& img = pool[i];
      b.slots.push_back({b.pixels.size(), img.width, img.height});
      b.pixels.insert(b.pixels.end(), img.pixels.begin(), img.pixels.end());
    }
    batches.push_back(std::move(b));
  }
  std::vector<uint64_t> phash(args.batch), dhash(args.batch);
  try {
    const Batch& first = batches.front();
    const size_t count = first.slots.size();
    const auto warm = std::chrono::steady_clock::now();
    vpipe::cuda::perceptual_hashes(first.pixels, first.slots, std::span(phash).first(count),
                                   std::span(dhash).first(count), args.device);
    std::printf("cuda warm-up call (context, module load): %.3f s\n", since(warm));
    if (args.cpu) {
      size_t dhash_mismatches = 0;
      size_t phash_bits = 0;
      for (size_t i = 0; i < count && i < args.n; ++i) {
        dhash_mismatches += dhash[i] != cpu_dhash[i];
        phash_bits += static_cast<size_t>(std::popcount(phash[i] ^ cpu_phash[i]));
      }
      std::printf(
          "check on %zu images: dHash mismatches %zu (must be 0), pHash differing bits %zu\n",
          std::min(count, args.n), dhash_mismatches, phash_bits);
      if (dhash_mismatches > 0) return 1;
    }
    size_t done = 0;
    size_t calls = 0;
    const auto start = std::chrono::steady_clock::now();
    while (done < args.n) {
      const Batch& b = batches[calls % batches.size()];
      const size_t count = std::min(b.slots.size(), args.n - done);
      vpipe::cuda::perceptual_hashes(b.pixels, std::span(b.slots).first(count),
                                     std::span(phash).first(count), std::span(dhash).first(count),
                                     args.device);
      done += count;
      ++calls;
    }
    const double seconds = since(start);
    std::printf(
        "cuda phash+dhash: %.0f images/s (%.3f s, %zu calls of up to %zu images, device %d)\n",
        args.n / seconds, seconds, calls, args.batch, args.device);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "phash_cuda_bench: cuda cannot run: %s\n", e.what());
    return 3;
  }
  return 0;
}
