// Public entry points of the Hamming index: validation, CPU dispatch, method choice, threads.
#include "vpipe/dedup/hamming_index.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>

#include "vpipe/dedup/hamming_kernels.h"

namespace vpipe {
namespace hamming_detail {

void JoinOutput::deliver(std::span<const HammingPair> pairs) {
  const std::lock_guard lock(mutex_);
  if (stopped()) return;
  try {
    sink_(pairs);
  } catch (...) {
    error_ = std::current_exception();
    stopped_.store(true, std::memory_order_relaxed);
  }
}

void JoinOutput::fail(std::exception_ptr error) {
  const std::lock_guard lock(mutex_);
  if (!error_) error_ = std::move(error);
  stopped_.store(true, std::memory_order_relaxed);
}

void JoinOutput::finish() {
  const std::lock_guard lock(mutex_);
  if (error_) std::rethrow_exception(error_);
}

void run_workers(int threads, JoinOutput& output, const std::function<void(int)>& worker) {
  const auto guarded = [&](int index) {
    try {
      worker(index);
    } catch (...) {
      output.fail(std::current_exception());
    }
  };
  if (threads <= 1) {
    guarded(0);
    return;
  }
  std::vector<std::jthread> pool;  // joined on every way out of this scope
  try {
    pool.reserve(static_cast<size_t>(threads) - 1);
    for (int index = 1; index < threads; ++index) pool.emplace_back(guarded, index);
  } catch (...) {
    // The workers already started see stopped() and return; the caller gets this error.
    output.fail(std::current_exception());
  }
  guarded(0);
}

TileKernel tile_kernel(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512:
      return tile_avx512;
    case SimdLevel::kAvx2:
      return tile_avx2;
    case SimdLevel::kScalar:
      break;
  }
  return tile_scalar;
}

}  // namespace hamming_detail

namespace {

using hamming_detail::JoinOutput;
using hamming_detail::JoinRequest;

constexpr uint64_t kMaxHashes = uint64_t{1} << 32;  // indices are uint32_t

JoinRequest make_request(std::span<const uint64_t> queries, std::span<const uint64_t> base,
                         bool self, const HammingSearchOptions& options) {
  if (options.max_distance < 0 || options.max_distance > 32) {
    throw std::invalid_argument("hamming: max_distance must be in 0..32, got " +
                                std::to_string(options.max_distance));
  }
  if (queries.size() >= kMaxHashes || base.size() >= kMaxHashes) {
    throw std::invalid_argument("hamming: at most 2^32 - 1 hashes per array (uint32_t indices)");
  }
  if (options.threads < 0) {
    throw std::invalid_argument("hamming: threads must be >= 0, got " +
                                std::to_string(options.threads));
  }
  if (options.mih_blocks != 0 && (options.mih_blocks < 3 || options.mih_blocks > 64)) {
    throw std::invalid_argument("hamming: mih_blocks must be 0 (automatic) or 3..64, got " +
                                std::to_string(options.mih_blocks));
  }
  if (options.second_max_distance < -1 || options.second_max_distance > 64) {
    throw std::invalid_argument("hamming: second_max_distance must be in -1..64, got " +
                                std::to_string(options.second_max_distance));
  }
  if (options.second_max_distance >= 0 &&
      (options.second_base.size() != base.size() ||
       (!self && options.second_queries.size() != queries.size()))) {
    throw std::invalid_argument("hamming: one second hash per hash is needed");
  }
  const SimdLevel level = options.simd.value_or(best_simd_level());
  if (!simd_level_supported(level)) {
    throw std::invalid_argument("hamming: this CPU cannot run the " +
                                std::string(to_string(level)) + " kernel");
  }
  JoinRequest request;
  request.queries = queries;
  request.base = base;
  request.self = self;
  request.t = options.max_distance;
  request.threads = options.threads > 0
                        ? options.threads
                        : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  request.kernel = hamming_detail::tile_kernel(level);
  if (options.second_max_distance >= 0) {
    request.second_t = options.second_max_distance;
    request.second_base = options.second_base;
    request.second_queries = self ? options.second_base : options.second_queries;
  }
  if (options.mih_blocks != 0) {
    request.mih_blocks = hamming_detail::mih_equal_blocks(options.mih_blocks, request.t);
  }
  return request;
}

void run(JoinRequest request, HammingMethod method, const HammingPairFilter& keep,
         const HammingPairSink& sink) {
  if (!sink) throw std::invalid_argument("hamming: the pair sink is empty");
  if (method != HammingMethod::kBruteForce) {
    // kAuto weighs the brute force against the best multi-index plan (choose_method).
    const auto nq = static_cast<double>(request.queries.size());
    const auto nb = static_cast<double>(request.base.size());
    hamming_detail::MihPlan plan = hamming_detail::mih_plan(nq, nb, request.self, request.t);
    if (method == HammingMethod::kAuto) {
      method = hamming_detail::brute_force_cost(nq, nb, request.self) <= plan.cost
                   ? HammingMethod::kBruteForce
                   : HammingMethod::kMultiIndex;
    }
    if (request.mih_blocks.empty()) request.mih_blocks = std::move(plan.blocks);
  }
  JoinOutput output(sink, &keep);
  if (method == HammingMethod::kBruteForce) {
    hamming_detail::brute_force_join(request, output);
  } else {
    hamming_detail::multi_index_join(request, output);
  }
  output.finish();
}

std::vector<HammingPair> collect_sorted(const std::function<void(const HammingPairSink&)>& join) {
  std::vector<HammingPair> pairs;
  join([&](std::span<const HammingPair> chunk) {
    pairs.insert(pairs.end(), chunk.begin(), chunk.end());
  });
  std::sort(pairs.begin(), pairs.end(), [](const HammingPair& x, const HammingPair& y) {
    return x.a != y.a ? x.a < y.a : x.b < y.b;
  });
  return pairs;
}

}  // namespace

void hamming_self_join(std::span<const uint64_t> hashes, const HammingSearchOptions& options,
                       const HammingPairSink& sink) {
  const JoinRequest request = make_request(hashes, hashes, true, options);
  run(request, options.method, options.keep, sink);
}

std::vector<HammingPair> hamming_self_join(std::span<const uint64_t> hashes,
                                           const HammingSearchOptions& options) {
  return collect_sorted(
      [&](const HammingPairSink& sink) { hamming_self_join(hashes, options, sink); });
}

void hamming_cross_join(std::span<const uint64_t> queries, std::span<const uint64_t> base,
                        const HammingSearchOptions& options, const HammingPairSink& sink) {
  const JoinRequest request = make_request(queries, base, false, options);
  run(request, options.method, options.keep, sink);
}

std::vector<HammingPair> hamming_cross_join(std::span<const uint64_t> queries,
                                            std::span<const uint64_t> base,
                                            const HammingSearchOptions& options) {
  return collect_sorted(
      [&](const HammingPairSink& sink) { hamming_cross_join(queries, base, options, sink); });
}

bool simd_level_supported(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return true;
    case SimdLevel::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    case SimdLevel::kAvx512:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vpopcntdq") &&
             __builtin_cpu_supports("popcnt");
  }
  return false;
}

SimdLevel best_simd_level() {
  if (simd_level_supported(SimdLevel::kAvx512)) return SimdLevel::kAvx512;
  if (simd_level_supported(SimdLevel::kAvx2)) return SimdLevel::kAvx2;
  return SimdLevel::kScalar;
}

std::string_view to_string(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar:
      return "scalar";
    case SimdLevel::kAvx2:
      return "avx2";
    case SimdLevel::kAvx512:
      return "avx512";
  }
  return "unknown";
}

std::string_view to_string(HammingMethod method) {
  switch (method) {
    case HammingMethod::kAuto:
      return "auto";
    case HammingMethod::kBruteForce:
      return "brute-force";
    case HammingMethod::kMultiIndex:
      return "multi-index";
  }
  return "unknown";
}

HammingMethod choose_method(size_t n, int t) {
  const auto nd = static_cast<double>(n);
  return hamming_detail::brute_force_cost(nd, nd, true) <=
                 hamming_detail::mih_plan(nd, nd, true, t).cost
             ? HammingMethod::kBruteForce
             : HammingMethod::kMultiIndex;
}

}  // namespace vpipe
