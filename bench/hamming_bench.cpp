// Throughput of the Hamming index (src/vpipe/dedup/hamming_index.h) on synthetic hashes:
// uniformly random 64-bit hashes, a fraction of which are replaced by near copies (0..t random
// bit flips) of other hashes, so that there are pairs to find.
//
//   hamming_bench [--n N] [--t T] [--method auto|brute|mih] [--threads K] [--planted F]
//                 [--simd scalar|avx2|avx512] [--blocks M] [--queries Q] [--seed S]
//                 [--plan W/R,W/R,...] [--device cpu|cuda|cuda:N] [--verify N] [--hashes FILE] [--query-hashes FILE]
//
// --queries Q runs a cross join of Q transformed queries against the N hashes instead of a
// self-join. --blocks M forces M equal multi-index blocks; --plan forces any blocks (widths
// and radii, packed from bit 0; self-join only), the tool used to fit the cost model in
// hamming_mih.cpp. Prints one line: method (and multi-index blocks), SIMD level, wall and CPU
// time, pairs found, sink calls, peak RSS. Pairs are counted in the sink, not stored, as a
// caller streaming them to disk would. --hashes FILE searches real hashes instead (raw uint64
// little-endian, e.g. a manifest's pHashes: the dense buckets of clustered data), N their count;
// --query-hashes FILE cross-joins real queries (a crop window's or a turn's hashes) against them.
//
// --device cuda runs the self-join on the GPU instead (hamming_self_join_cuda, an exact tiled
// brute force; --method, --simd, --blocks and --plan do not apply) and prints the same line with
// method=cuda, the time including the copy to the device, and the launches. --verify N then runs
// on N hashes (drawn like the rest) through both the CPU index and the GPU and checks that the
// pair sets are equal: prints MATCH or MISMATCH (exit 1) with both counts. Without a usable GPU
// (or in a build without CUDA) either prints why and exits 3.
//
// Reference figures (2-core AMD EPYC Zen 4 VM, AVX-512, --threads 2, --planted 0.01):
//   n = 2M,  t = 10: multi-index 0.76-0.94 s, 67 MB peak RSS; t = 4: 0.19 s
//   n = 10M, t = 10: multi-index 11.3 s, 312 MB; t = 4: 1.05 s
//   brute force: ~2.8e10 pairs/s (n = 200k: 0.71 s, n = 1M: 18.5 s), at any t
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "vpipe/dedup/hamming_index.h"
#include "vpipe/dedup/hamming_kernels.h"  // the multi-index plan, to print it
#include "vpipe/dedup/cuda/hamming_cuda.h"

namespace {

struct Args {
  size_t n = 1'000'000;
  int t = 10;
  vpipe::HammingMethod method = vpipe::HammingMethod::kAuto;
  int threads = 0;
  double planted = 0.01;
  std::optional<vpipe::SimdLevel> simd;
  int blocks = 0;
  size_t queries = 0;
  uint64_t seed = 1;
  std::string plan;      // "w/r,w/r,...": force multi-index blocks (widths/radii), for tuning
  int cuda_device = -1;  // >= 0: the self-join runs on this CUDA device
  size_t verify = 0;     // > 0 (with --device cuda): compare GPU and CPU pair sets on this many
  std::string hashes_file;  // --hashes: real hashes (uint64 little-endian, raw) instead of made ones
  std::string queries_file;  // --query-hashes: real queries for a cross join against them
};

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr,
               "hamming_bench: %s\nusage: hamming_bench [--n N] [--t T] [--method auto|brute|mih] "
               "[--threads K] [--planted F] [--simd scalar|avx2|avx512] [--blocks M] "
               "[--queries Q] [--seed S] [--plan W/R,W/R,...] [--device cpu|cuda|cuda:N] "
               "[--verify N] [--hashes FILE] [--query-hashes FILE]\n",
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
    } else if (flag == "--t") {
      args.t = std::atoi(value);
    } else if (flag == "--threads") {
      args.threads = std::atoi(value);
    } else if (flag == "--planted") {
      args.planted = std::atof(value);
    } else if (flag == "--blocks") {
      args.blocks = std::atoi(value);
    } else if (flag == "--queries") {
      args.queries = std::strtoull(value, nullptr, 10);
    } else if (flag == "--plan") {
      args.plan = value;
    } else if (flag == "--verify") {
      args.verify = std::strtoull(value, nullptr, 10);
    } else if (flag == "--device") {
      const std::string_view d = value;
      if (d == "cpu") {
        args.cuda_device = -1;
      } else if (d == "cuda") {
        args.cuda_device = 0;
      } else if (d.starts_with("cuda:")) {
        args.cuda_device = std::atoi(value + 5);
      } else {
        usage("unknown --device");
      }
    } else if (flag == "--query-hashes") {
      args.queries_file = value;
    } else if (flag == "--hashes") {
      args.hashes_file = value;
    } else if (flag == "--seed") {
      args.seed = std::strtoull(value, nullptr, 10);
    } else if (flag == "--method") {
      const std::string_view m = value;
      if (m == "auto") {
        args.method = vpipe::HammingMethod::kAuto;
      } else if (m == "brute") {
        args.method = vpipe::HammingMethod::kBruteForce;
      } else if (m == "mih") {
        args.method = vpipe::HammingMethod::kMultiIndex;
      } else {
        usage("unknown --method");
      }
    } else if (flag == "--simd") {
      const std::string_view s = value;
      if (s == "scalar") {
        args.simd = vpipe::SimdLevel::kScalar;
      } else if (s == "avx2") {
        args.simd = vpipe::SimdLevel::kAvx2;
      } else if (s == "avx512") {
        args.simd = vpipe::SimdLevel::kAvx512;
      } else {
        usage("unknown --simd");
      }
    } else {
      usage("unknown flag");
    }
  }
  return args;
}

// splitmix64: fast, and good enough to make hashes look uniform.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

uint64_t flip_bits(uint64_t h, int flips, Rng& rng) {
  for (int f = 0; f < flips; ++f) h ^= uint64_t{1} << (rng.next() % 64);
  return h;
}

std::vector<uint64_t> make_hashes(size_t n, int t, double planted, Rng& rng) {
  std::vector<uint64_t> hashes(n);
  for (auto& h : hashes) h = rng.next();
  // Near copies of earlier hashes, 0..t flips (a repeated flip cancels: some land closer).
  for (size_t i = 1; i < n; ++i) {
    if (static_cast<double>(rng.next() >> 11) * 0x1.0p-53 < planted) {
      hashes[i] = flip_bits(hashes[rng.next() % i], static_cast<int>(rng.next() % (t + 1)), rng);
    }
  }
  return hashes;
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KB on Linux
}

// User + system CPU seconds of the process so far, all threads: on a shared machine it says
// what the run cost when the wall time is inflated by other load.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + tv.tv_usec * 1e-6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Exit status when the GPU cannot run (no device, no driver, a build without CUDA): a script
// tells "could not run" from a wrong answer (1) by it.
constexpr int kNoDevice = 3;

// The self-join on the GPU: one timed run, printed like the CPU line.
int run_cuda(const Args& args, const std::vector<uint64_t>& hashes) {
  vpipe::HammingCudaOptions options;
  options.device = args.cuda_device;
  uint64_t pairs = 0;
  uint64_t chunks = 0;
  const vpipe::HammingPairSink sink = [&](std::span<const vpipe::HammingPair> chunk) {
    pairs += chunk.size();
    ++chunks;
  };
  const auto start = std::chrono::steady_clock::now();
  vpipe::HammingCudaStats stats;
  try {
    stats = vpipe::hamming_self_join_cuda(hashes, args.t, sink, options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hamming_bench: --device cuda cannot run: %s\n", e.what());
    return kNoDevice;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "self n=%zu t=%d method=cuda device=%d: %.3f s (%.3g pairs/s compared), %llu pairs (%llu "
      "chunks, %zu bands, %zu launches, %zu overflow relaunches), peak RSS %.0f MB\n",
      args.n, args.t, args.cuda_device, seconds,
      static_cast<double>(args.n) * static_cast<double>(args.n - 1) / 2.0 / seconds,
      static_cast<unsigned long long>(pairs), static_cast<unsigned long long>(chunks), stats.bands,
      stats.launches, stats.overflow_relaunches, peak_rss_mb());
  return 0;
}

// The GPU's pair set against the CPU index's on `hashes`: both sorted by (a, b).
int verify_cuda(const Args& args, const std::vector<uint64_t>& hashes) {
  vpipe::HammingSearchOptions cpu_options;
  cpu_options.max_distance = args.t;
  cpu_options.threads = args.threads;
  const auto cpu_start = std::chrono::steady_clock::now();
  const std::vector<vpipe::HammingPair> cpu_pairs = vpipe::hamming_self_join(hashes, cpu_options);
  const double cpu_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - cpu_start).count();
  std::vector<vpipe::HammingPair> gpu_pairs;
  const auto gpu_start = std::chrono::steady_clock::now();
  try {
    vpipe::HammingCudaOptions options;
    options.device = args.cuda_device;
    gpu_pairs = vpipe::hamming_self_join_cuda(hashes, args.t, options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hamming_bench: --verify: cpu %zu pairs in %.3f s; cuda cannot run: %s\n",
                 cpu_pairs.size(), cpu_s, e.what());
    return kNoDevice;
  }
  const double gpu_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - gpu_start).count();
  const bool same = cpu_pairs == gpu_pairs;
  size_t first_difference = 0;
  while (first_difference < std::min(cpu_pairs.size(), gpu_pairs.size()) &&
         cpu_pairs[first_difference] == gpu_pairs[first_difference]) {
    ++first_difference;
  }
  std::printf("verify n=%zu t=%d: cpu %zu pairs (%.3f s), cuda %zu pairs (%.3f s): %s",
              hashes.size(), args.t, cpu_pairs.size(), cpu_s, gpu_pairs.size(), gpu_s,
              same ? "MATCH\n" : "MISMATCH");
  if (!same) std::printf(" (first difference at sorted index %zu)\n", first_difference);
  return same ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse(argc, argv);
  Rng rng{args.seed};
  const auto read_hashes = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) usage("cannot read a hash file");
    std::vector<uint64_t> out(static_cast<size_t>(in.tellg()) / sizeof(uint64_t));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(out.data()),
            static_cast<std::streamsize>(out.size() * sizeof(uint64_t)));
    return out;
  };
  std::vector<uint64_t> from_file;
  if (!args.hashes_file.empty()) {
    from_file = read_hashes(args.hashes_file);
    args.n = from_file.size();
  }
  std::vector<uint64_t> queries_from_file;
  if (!args.queries_file.empty()) {
    queries_from_file = read_hashes(args.queries_file);
    args.queries = queries_from_file.size();
  }
  if (args.cuda_device >= 0) {
    if (args.queries > 0 || !args.plan.empty()) usage("--device cuda runs self-joins only");
    if (args.verify > 0) {
      return verify_cuda(args, make_hashes(args.verify, args.t, args.planted, rng));
    }
    return run_cuda(args, make_hashes(args.n, args.t, args.planted, rng));
  }
  if (args.verify > 0) usage("--verify needs --device cuda");
  const std::vector<uint64_t> hashes =
      from_file.empty() ? make_hashes(args.n, args.t, args.planted, rng) : from_file;
  std::vector<uint64_t> queries = queries_from_file;
  if (queries.empty()) {
    queries.resize(args.queries);
    for (auto& q : queries) {
      q = flip_bits(hashes[rng.next() % hashes.size()], static_cast<int>(rng.next() % (args.t + 3)),
                    rng);
    }
  }

  vpipe::HammingSearchOptions options;
  options.max_distance = args.t;
  options.method = args.method;
  options.simd = args.simd;
  options.threads = args.threads;
  options.mih_blocks = args.blocks;
  // What the join will run, for the printout: kAuto resolved as hamming_index.cpp does.
  namespace hd = vpipe::hamming_detail;
  const auto nq = static_cast<double>(args.queries > 0 ? args.queries : args.n);
  const auto nb = static_cast<double>(args.n);
  const bool self = args.queries == 0;
  vpipe::HammingMethod method = args.method;
  if (!args.plan.empty()) method = vpipe::HammingMethod::kMultiIndex;
  if (method == vpipe::HammingMethod::kAuto) {
    method = hd::brute_force_cost(nq, nb, self) <= hd::mih_plan(nq, nb, self, args.t).cost
                 ? vpipe::HammingMethod::kBruteForce
                 : vpipe::HammingMethod::kMultiIndex;
  }

  std::string plan_text;
  std::vector<hd::MihBlock> forced_plan;
  if (method == vpipe::HammingMethod::kMultiIndex) {
    std::vector<hd::MihBlock> plan = args.blocks > 0 ? hd::mih_equal_blocks(args.blocks, args.t)
                                                     : hd::mih_plan(nq, nb, self, args.t).blocks;
    if (!args.plan.empty()) {
      plan.clear();
      int shift = 0;
      for (size_t at = 0; at < args.plan.size();) {
        hd::MihBlock block;
        block.shift = shift;
        block.width = std::atoi(args.plan.c_str() + at);
        block.radius = std::atoi(args.plan.c_str() + args.plan.find('/', at) + 1);
        shift += block.width;
        plan.push_back(block);
        const size_t comma = args.plan.find(',', at);
        at = comma == std::string::npos ? args.plan.size() : comma + 1;
      }
      forced_plan = plan;
    }
    plan_text = " blocks(width/radius)=";
    for (const auto& block : plan) {
      plan_text += std::to_string(block.width) + "/" + std::to_string(block.radius) + " ";
    }
  }
  std::atomic<uint64_t> pairs{0};
  uint64_t chunks = 0;
  const vpipe::HammingPairSink sink = [&](std::span<const vpipe::HammingPair> chunk) {
    pairs += chunk.size();
    ++chunks;
  };
  const double cpu_start = cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  try {
    if (!forced_plan.empty()) {
      if (!self) throw std::invalid_argument("--plan is for self-joins only");
      hd::JoinRequest request;
      request.queries = hashes;
      request.base = hashes;
      request.t = args.t;
      request.threads = args.threads > 0 ? args.threads : 2;
      request.kernel = hd::tile_kernel(args.simd.value_or(vpipe::best_simd_level()));
      request.mih_blocks = forced_plan;
      hd::JoinOutput output(sink);
      hd::multi_index_join(request, output);
      output.finish();
    } else if (args.queries > 0) {
      vpipe::hamming_cross_join(queries, hashes, options, sink);
    } else {
      vpipe::hamming_self_join(hashes, options, sink);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hamming_bench: %s\n", e.what());
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu_start;
  std::printf(
      "%s n=%zu%s t=%d method=%s%s simd=%s threads=%d: %.3f s (cpu %.3f s), %llu pairs (%llu "
      "chunks), peak RSS %.0f MB\n",
      args.queries > 0 ? "cross" : "self", args.n,
      args.queries > 0 ? (" queries=" + std::to_string(args.queries)).c_str() : "", args.t,
      std::string(vpipe::to_string(method)).c_str(), plan_text.c_str(),
      std::string(vpipe::to_string(args.simd.value_or(vpipe::best_simd_level()))).c_str(),
      args.threads, seconds, cpu, static_cast<unsigned long long>(pairs.load()),
      static_cast<unsigned long long>(chunks), peak_rss_mb());
  return 0;
}
