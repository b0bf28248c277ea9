#include "vpipe/scan/scan.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <opencv2/core/utility.hpp>
#include <optional>
#include <thread>
#include <unordered_map>

#include "vpipe/core/buffer_pool.h"
#include "vpipe/core/error.h"
#include "vpipe/core/image_ops.h"
#include "vpipe/core/log.h"
#include "vpipe/crawl/url_store.h"
#include "vpipe/dedup/hashes.h"
#include "vpipe/engine/pipeline.h"
#include "vpipe/engine/threads.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/format.h"
#include "vpipe/io/manifest.h"
#include "vpipe/io/paths.h"
#include "vpipe/io/run_scope.h"
#include "vpipe/io/walk.h"
#include "vpipe/quality/signals.h"

namespace vpipe {
namespace {

/// One file on its way through the scan pipeline. `bytes` lives from read to decode, `decoded`
/// and `alpha` from decode to signals, so at most a queue's worth of each is in memory.
struct ScanItem {
  FileRecord record;
  UninitializedBytes bytes;  // from the read stage's pool, back to it after decoding
  Image decoded;
  Image alpha;               // the decoder's alpha plane; empty when opaque
  PixelBudget::Lease lease;  // `decoded`'s pixels, taken from the pass's budget
  bool ignored = false;      // not an image by signature or name: not recorded
  bool no_file = false;      // a crawled URL that produced no file: only its URL row is written
  std::optional<CrawlUrlRecord> url;  // the crawl's record of the URL this file came from

  void fail(std::string message) {
    record.status = ItemStatus::kFailed;
    record.error = std::move(message);
    record.has_signals = false;
    bytes.clear();
    decoded = Image();
    alpha = Image();
    lease.release();
  }
  [[nodiscard]] bool pending() const { return !ignored && !no_file && has_signals(record.status); }
};

struct FileCloser {
  int fd;
  ~FileCloser() { ::close(fd); }
};

/// Reads a whole file into a buffer from `buffers`. Returns an empty optional and sets `error` on
/// failure. A file without an
/// image extension is only read whole when its first bytes are an image signature; otherwise
/// `not_image` is set and nothing more is read (walks meet many such files).
using BytePool = BasicBufferPool<UninitializedBytes>;

std::optional<UninitializedBytes> read_whole_file(const std::string& path, uint64_t max_bytes,
                                                  BytePool& buffers, FileRecord& record,
                                                  std::string& error, bool& too_large,
                                                  bool& not_image) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = fmt::format("cannot open: {}", std::strerror(errno));
    return std::nullopt;
  }
  FileCloser closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    error = fmt::format("cannot stat: {}", std::strerror(errno));
    return std::nullopt;
  }
  // The stamp of what was actually read, so resume compares against these bytes.
  record.size_bytes = st.st_size;
  record.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  if (!has_image_extension(path)) {
    uint8_t head[kSniffBytes];
    const ssize_t n = ::pread(fd, head, sizeof(head), 0);
    if (n < 0 || sniff_format(std::span<const uint8_t>(head, static_cast<size_t>(n))) ==
                     ImageFormat::kUnknown) {
      not_image = true;
      return std::nullopt;
    }
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    too_large = true;
    error = fmt::format("file is {} bytes, over the {}-byte limit", st.st_size, max_bytes);
    return std::nullopt;
  }
  // Not zeroed: read() fills it, and a file that shrank meanwhile is cut to what was read.
  UninitializedBytes bytes = buffers.take(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = fmt::format("read failed: {}", std::strerror(errno));
      return std::nullopt;
    }
    if (n == 0) break;  // the file shrank while we read it: keep what is there
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

/// The read stage's work on one item: bytes, content hash, signature check.
void read_item(ScanItem& item, uint64_t max_bytes, BytePool& buffers) {
  FileRecord& rec = item.record;
  std::string error;
  bool too_large = false;
  bool not_image = false;
  auto bytes = read_whole_file(rec.path, max_bytes, buffers, rec, error, too_large, not_image);
  if (not_image) {
    item.ignored = true;
    return;
  }
  if (!bytes) {
    rec.status = too_large ? ItemStatus::kTooLarge : ItemStatus::kUnreadable;
    rec.error = std::move(error);
    return;
  }
  rec.content_hash = content_hash(*bytes);
  rec.has_content_hash = true;
  const ImageFormat format =
      sniff_format(std::span<const uint8_t>(*bytes).first(std::min(bytes->size(), kSniffBytes)));
  if (format == ImageFormat::kUnknown) {  // an image name (others stopped above), no signature
    rec.status = ItemStatus::kNotImage;
    rec.error = bytes->empty() ? "not an image: the file is empty"
                               : "not an image: no known image signature in its first bytes";
    return;
  }
  rec.format = std::string(format_name(format));
  item.bytes = std::move(*bytes);
}

void decode_item(ScanItem& item, Decoder& decoder, const DecodeOptions& options,
                 BytePool& byte_buffers) {
  FileRecord& rec = item.record;
  DecodeResult result = decoder.decode(item.bytes, options);
  byte_buffers.give_back(std::move(item.bytes));  // the next file's read reuses them
  item.bytes = {};
  rec.status = result.status;
  rec.error = std::move(result.message);
  if (result.format != ImageFormat::kUnknown) rec.format = std::string(format_name(result.format));
  rec.width = result.width;
  rec.height = result.height;
  if (has_signals(rec.status)) {
    item.decoded = std::move(result.image);
    item.alpha = std::move(result.alpha);
    item.lease = std::move(result.lease);
  }
}

DecodeOptions scan_decode_options(const DecodeOptions& base) {
  DecodeOptions options = base;
  options.min_long_side = kWorkingSize;
  return options;
}

/// Counts the files a walk will find, for the progress ETA; runs beside the scan.
class FileCounter {
 public:
  FileCounter(const ScanOptions& options, const std::atomic<bool>* stop) {
    thread_ = std::thread([this, &options, stop] {
      int64_t n = 0;
      auto count = [&](WalkEntry&&) {
        ++n;
        return !(stop && stop->load()) && !done_.load();
      };
      try {
        if (!options.roots.empty()) walk_files(options.roots, count);
        if (!options.path_list.empty() && options.path_list != "-") {
          std::ifstream in(options.path_list, std::ios::binary);
          read_path_list(in, options.list_delimiter, count);
        } else if (options.path_list == "-") {
          return;  // stdin can be read once only: total stays unknown
        }
      } catch (const std::exception&) {
        return;  // the scan itself reports the error
      }
      total_.store(n);
    });
  }
  ~FileCounter() {
    done_.store(true);
    thread_.join();
  }
  [[nodiscard]] int64_t total() const { return total_.load(); }

 private:
  std::atomic<int64_t> total_{-1};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace

void store_dedup_hashes(const Image& gray, FileRecord& record) {
  // One pass of column sums serves the orientation and crop hashes' thumbnails (an empty image
  // has all-zero hashes, as orientation_hashes_cpu and crop_hashes_cpu of it give).
  OrientationHashes hashes;
  CropHashes crops;
  if (!gray.empty()) {
    const AreaResampler resampler(gray);
    hashes = orientation_hashes_cpu(resampler);
    crops = crop_hashes_cpu(resampler);
  }
  record.orientation_phash = hashes.phash;
  record.orientation_dhash = hashes.dhash;
  record.has_orientation_hashes = true;
  record.phash = hashes.phash[0];
  record.dhash = hashes.dhash[0];
  record.crop_phash = crops.phash;
  record.crop_dhash = crops.dhash;
  record.has_crop_hashes = true;
}

void measure_image(const Image& decoded, FileRecord& record, bool orientation_hashes) {
  measure_image(decoded, Image(), record, orientation_hashes);
}

void measure_image(const Image& decoded, const Image& alpha, FileRecord& record,
                   bool orientation_hashes) {
  // Hashes read the picture composited on black, at full size and then shrunk, exactly as they
  // did before decoders kept alpha, so their values do not change. Shrinking the composite
  // (premultiplied colour) and the alpha plane with one filter, then un-premultiplying, gives the
  // straight colour of the working pixels weighted by opacity, which the signals read.
  Image working;
  Image working_alpha;
  if (alpha.empty()) {
    working = resize_to_fit(decoded, kWorkingSize);
  } else {
    working = resize_to_fit(composite_over(decoded, alpha), kWorkingSize);
    working_alpha = resize_to_fit(alpha, kWorkingSize);
  }
  const Image gray = to_gray(working);
  if (orientation_hashes) {
    store_dedup_hashes(gray, record);
  } else {
    record.phash = phash_cpu(gray);
    record.dhash = dhash_cpu(gray);
  }
  record.quality =
      alpha.empty()
          ? quality_signals_cpu(working, gray)
          : quality_signals_cpu(unpremultiply(std::move(working), working_alpha), &working_alpha);
  record.has_signals = true;
}

void scan_bytes(std::span<const uint8_t> bytes, Decoder& decoder, const DecodeOptions& options,
                FileRecord& record) {
  record.content_hash = content_hash(bytes);
  record.has_content_hash = true;
  DecodeResult result = decoder.decode(bytes, scan_decode_options(options));
  record.status = result.status;
  record.error = std::move(result.message);
  record.format = std::string(format_name(result.format));
  record.width = result.width;
  record.height = result.height;
  record.has_signals = false;
  if (has_signals(record.status)) measure_image(result.image, result.alpha, record);
}

namespace {

/// The manifest stage's work on one batch: its file rows (and, for crawled files, their URL
/// rows) in one transaction, after flushing the download folder when asked. `ignored` and
/// `counts` grow only once the batch is committed: the run's counts are the rows the manifest
/// holds, also when a write fails (a full disk) and the run ends.
void write_scan_batch(std::span<ScanItem> batch, Manifest& manifest, int sync_fd,
                      const ScanOptions& options, int64_t& ignored,
                      std::map<std::string, int64_t>& counts) {
  std::vector<FileRecord> rows;
  std::vector<CrawlUrlRecord> urls;
  std::map<std::string, int64_t> batch_counts;
  int64_t batch_ignored = 0;
  rows.reserve(batch.size());
  for (ScanItem& item : batch) {
    if (item.url) {
      if (item.ignored) {  // the fetcher checked the signature; the file changed since
        item.url->state = "failed";
        item.url->reason = "not_image";
        item.url->message = "the downloaded file is not an image";
        item.url->path.clear();
      }
      urls.push_back(std::move(*item.url));
    }
    if (item.no_file) continue;
    if (item.ignored) {
      ++batch_ignored;
      continue;
    }
    const FileRecord& rec = item.record;
    if (rec.status != ItemStatus::kOk) {
      log().debug("{}: {}: {}", rec.path, to_string(rec.status), rec.error);
    }
    ++batch_counts[std::string(to_string(rec.status))];
    rows.push_back(std::move(item.record));
  }
  if (sync_fd >= 0 && !rows.empty() && ::syncfs(sync_fd) != 0) {
    throw IoError(fmt::format("cannot flush '{}' to disk: {}", options.sync_before_commit.string(),
                              std::strerror(errno)));
  }
  if (!urls.empty()) {
    UrlStore(manifest).record_crawl_results(rows, urls);
  } else if (!rows.empty()) {
    FileStore(manifest).upsert_files(rows);
  }
  for (const auto& [status, n] : batch_counts) counts[status] += n;
  ignored += batch_ignored;
}

/// The stages every scan shares — read, decode, signals, manifest — behind `source`. Writes
/// counts as it goes (so a caller can record them when the run fails) and fills the summary's
/// engine report, status counts, scanned, ignored and stopped.
ScanSummary run_scan_stages(const ScanOptions& options, Manifest& manifest,
                            const std::string& source_name,
                            const Pipeline<ScanItem>::SourceFn& source,
                            std::function<int64_t()> expected_total, std::string_view unit,
                            std::map<std::string, int64_t>& counts) {
  const int threads = resolve_threads(options.threads);
  // The stages are the parallelism; OpenCV's own pool inside resize/cvtColor would only add
  // threads competing for the same cores.
  cv::setNumThreads(1);
  // Full-resolution pixels held from decode to signals, all workers together: at most one
  // largest allowed image's worth (big PNGs are read row by row and hold a few rows).
  PixelBudget pixel_budget(std::max<uint64_t>(options.decode.max_pixels, 1));
  DecodeOptions decode_options = scan_decode_options(options.decode);
  decode_options.budget = &pixel_budget;

  ScanSummary summary;
  int64_t ignored = 0;  // written by the manifest stage's single worker
  int sync_fd = -1;
  if (!options.sync_before_commit.empty()) {
    sync_fd = ::open(options.sync_before_commit.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sync_fd < 0) {
      throw IoError(fmt::format("cannot open '{}': {}", options.sync_before_commit.string(),
                                std::strerror(errno)));
    }
  }
  struct SyncFdCloser {
    int fd;
    ~SyncFdCloser() {
      if (fd >= 0) ::close(fd);
    }
  } sync_fd_closer{sync_fd};

  // Buffers recycled between stages (core/buffer_pool.h): file bytes from decode back to read,
  // decoded pixels from signals back to decode. Each pool can hold as many buffers as can be in
  // flight between its two ends (the queue between, plus one per worker at each end), so that
  // none is freed only to be allocated again; that is no more memory than the pipeline holds at
  // its fullest. Larger ones (rare) are not kept.
  constexpr size_t kPooledBufferBytes = size_t{16} << 20;
  const int read_workers = std::max(1, std::min(threads, 4));
  BytePool byte_buffers(static_cast<size_t>(8 * threads + threads + read_workers),
                        kPooledBufferBytes);
  BufferPool pixel_buffers(static_cast<size_t>(8 * threads + 2 * threads), kPooledBufferBytes);

  Pipeline<ScanItem> pipeline;
  pipeline.set_source(source_name, source);
  // Reading is I/O: a few workers keep the disk busy without crowding the decoders.
  // Queues of 8 per worker: a hand-off per file through a 2-slot queue costs two context
  // switches (bench/engine_bench.cpp), which small images notice; 8 keeps memory to a few dozen
  // files' bytes and pixels.
  pipeline.add_stage({.name = "read",
                      .workers = read_workers,
                      .queue_capacity = static_cast<size_t>(8 * read_workers)},
                     [&](int) {
                       return [max_bytes = options.max_file_bytes,
                               &byte_buffers](std::span<ScanItem> batch) {
                         for (ScanItem& item : batch) {
                           if (!item.no_file) read_item(item, max_bytes, byte_buffers);
                         }
                       };
                     });
  pipeline.add_stage(
      {.name = "decode", .workers = threads, .queue_capacity = static_cast<size_t>(8 * threads)},
      [&](int) {
        // One decoder (one TurboJPEG handle) per worker thread.
        return [decoder = std::make_shared<Decoder>(&pixel_buffers), &decode_options,
                &byte_buffers](std::span<ScanItem> batch) {
          for (ScanItem& item : batch) {
            if (item.pending()) decode_item(item, *decoder, decode_options, byte_buffers);
          }
        };
      });
  pipeline.add_stage(
      {.name = "signals", .workers = threads, .queue_capacity = static_cast<size_t>(8 * threads)},
      [orientations = options.orientation_hashes, &pixel_buffers](int) {
        return [orientations, &pixel_buffers](std::span<ScanItem> batch) {
          for (ScanItem& item : batch) {
            if (!item.pending() || item.decoded.empty()) {
              item.lease.release();
              continue;
            }
            measure_image(item.decoded, item.alpha, item.record, orientations);
            pixel_buffers.give_back(std::move(item.decoded.pixels));
            item.decoded = Image();
            item.alpha = Image();
            item.lease.release();
          }
        };
      });
  // One writer; a transaction per batch of up to manifest_batch rows (512) or
  // manifest_max_delay (250 ms), whichever comes first. A crawled file's URL row goes in the
  // same transaction as its file row.
  pipeline.add_stage(
      {.name = "manifest",
       .workers = 1,
       .batch = {.max_batch = static_cast<size_t>(std::max(1, options.manifest_batch)),
                 .max_delay =
                     std::chrono::milliseconds(std::max(1, options.manifest_max_delay_ms))},
       .queue_capacity = 2048},
      [&](int) {
        return [&](std::span<ScanItem> batch) {
          write_scan_batch(batch, manifest, sync_fd, options, ignored, counts);
        };
      });

  RunOptions run_options;
  run_options.stop = options.stop;
  run_options.progress = options.progress;
  run_options.trace = !options.trace_path.empty();
  run_options.unit = std::string(unit);
  if (options.progress != nullptr) run_options.expected_total = std::move(expected_total);

  summary.engine = pipeline.run(run_options);
  summary.status_counts = counts;
  summary.ignored = ignored;
  summary.stopped = summary.engine.stopped;
  for (const auto& [name, n] : counts) summary.scanned += n;
  if (!options.trace_path.empty()) pipeline.write_chrome_trace(options.trace_path);
  return summary;
}

/// The prefix every stored path under a scanned folder starts with ("/data/photos/"), or "" for
/// a root that is not a folder.
std::string folder_prefix(const std::string& root) {
  struct stat st {};
  if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return "";
  const std::string real = real_path(root);
  if (real.empty()) return "";
  return real == "/" ? real : real + "/";
}

/// Deletes the rows of the files under a scanned folder that the walk did not meet (`unseen`)
/// and that are gone (lstat: ENOENT or ENOTDIR): moved by an action, deleted or renamed since.
/// Otherwise a later dedup could keep a file that is not there and act on its copies. A folder
/// none of whose rows' files was met keeps its rows, with a warning: an unmounted drive looks
/// like an empty folder. Rows outside the scanned folders (other scans, lists, crawls) stay.
int64_t remove_vanished(Manifest& manifest, const std::vector<std::string>& roots,
                        const std::unordered_map<std::string, int64_t>& rows_under,
                        const std::unordered_map<std::string, FileStore::FileStamp>& unseen) {
  std::vector<std::string> gone;
  for (const std::string& root : roots) {
    const std::string prefix = folder_prefix(root);
    if (prefix.empty()) continue;
    int64_t unseen_here = 0;
    std::vector<std::string> gone_here;
    for (const auto& [path, stamp] : unseen) {
      if (!path.starts_with(prefix)) continue;
      ++unseen_here;
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0 && (errno == ENOENT || errno == ENOTDIR)) {
        gone_here.push_back(path);
      }
    }
    const auto total = rows_under.find(prefix);
    if (total != rows_under.end() && unseen_here == total->second && !gone_here.empty()) {
      log().warn(
          "scan: none of the {} files the manifest holds under '{}' was found there; their rows "
          "are kept (is the drive mounted?)",
          total->second, display_path(root));
      continue;
    }
    gone.insert(gone.end(), std::make_move_iterator(gone_here.begin()),
                std::make_move_iterator(gone_here.end()));
  }
  std::sort(gone.begin(), gone.end());
  gone.erase(std::unique(gone.begin(), gone.end()), gone.end());  // nested roots
  if (gone.empty()) return 0;
  const int64_t removed = FileStore(manifest).remove_files(gone);
  log().info(
      "scan: {} files under the scanned folders are gone since the last scan; their rows "
      "were removed from the manifest",
      removed);
  return removed;
}

}  // namespace

ScanSummary scan_inputs(const ScanOptions& options, Manifest& manifest,
                        const std::string& source_name, const ScanInputs& inputs,
                        std::function<int64_t()> expected_total, std::string_view unit) {
  std::map<std::string, int64_t> counts;
  return run_scan_stages(
      options, manifest, source_name,
      [&](const Pipeline<ScanItem>::Emit& emit) {
        StoredPathResolver resolver;
        inputs([&](ScanInput&& input) {
          // Producers hand over absolute paths (the crawl's folder is made absolute); a relative
          // one is resolved here all the same, so the manifest only ever stores absolute paths.
          if (!input.path.empty() && input.path.front() != '/') {
            std::string resolved = resolver.resolve(input.path);
            if (input.url && input.url->path == input.path) input.url->path = resolved;
            input.path = std::move(resolved);
          }
          ScanItem item;
          item.no_file = input.path.empty();
          item.record.path = std::move(input.path);
          item.url = std::move(input.url);
          return emit(std::move(item));
        });
      },
      std::move(expected_total), unit, counts);
}

ScanSummary run_scan(const ScanOptions& options) {
  if (options.roots.empty() && options.path_list.empty()) {
    throw ConfigError("scan: give at least one directory or file, or --list FILE");
  }
  for (const std::string& root : options.roots) {
    struct stat st {};
    if (::stat(root.c_str(), &st) != 0) {
      throw IoError(fmt::format("scan: cannot read '{}': {}", root, std::strerror(errno)));
    }
  }
  std::ifstream list_file;
  if (!options.path_list.empty() && options.path_list != "-") {
    list_file.open(options.path_list, std::ios::binary);
    if (!list_file) throw IoError(fmt::format("scan: cannot open list '{}'", options.path_list));
  }

  Manifest manifest(options.db);
  // Every row's stamp: resume skips the unchanged files, and the rows the walk does not meet are
  // the candidates for removal afterwards (remove_vanished). Met rows are erased as they come.
  std::unordered_map<std::string, FileStore::FileStamp> known = FileStore(manifest).file_stamps();
  std::unordered_map<std::string, int64_t> rows_under;  // folder prefix -> rows below it
  for (const std::string& root : options.roots) {
    const std::string prefix = folder_prefix(root);
    if (prefix.empty() || rows_under.contains(prefix)) continue;
    int64_t& n = rows_under[prefix];
    for (const auto& entry : known) n += entry.first.starts_with(prefix) ? 1 : 0;
  }
  // Declared before the run: a failed run's record reads it.
  std::map<std::string, int64_t> counts;  // written by the manifest stage's single worker
  RunScope run(manifest, "scan", options.config_json, options.device.str());
  run.counts_from([&counts] { return counts; });

  std::atomic<int64_t> unchanged{0};
  std::atomic<int64_t> walk_errors{0};

  auto walk = [&](const Pipeline<ScanItem>::Emit& emit) {
    auto visit = [&](WalkEntry&& entry) {
      if (auto it = known.find(entry.path); it != known.end()) {
        // A file scanned without orientation hashes is rescanned when they are asked for now.
        const bool same = !options.force && it->second.size_bytes == entry.size_bytes &&
                          it->second.mtime_ns == entry.mtime_ns && it->second.current_signals &&
                          (!options.orientation_hashes || it->second.has_orientation_hashes);
        known.erase(it);
        if (same) {
          unchanged.fetch_add(1, std::memory_order_relaxed);
          return true;
        }
      }
      ScanItem item;
      item.record.path = std::move(entry.path);
      item.record.size_bytes = entry.size_bytes;
      item.record.mtime_ns = entry.mtime_ns;
      return emit(std::move(item));
    };
    // The manifest stores absolute paths with canonical directories (docs/MANIFEST.md), so
    // resume matches a file however its folder was named this time.
    WalkOptions walk_options;
    walk_options.stored_paths = true;
    WalkStats stats;
    if (!options.roots.empty()) stats = walk_files(options.roots, visit, walk_options);
    walk_errors.fetch_add(stats.errors);
    if (!options.path_list.empty()) {
      stats = read_path_list(options.path_list == "-" ? std::cin : list_file,
                             options.list_delimiter, visit, walk_options);
      walk_errors.fetch_add(stats.errors);
    }
  };

  std::optional<FileCounter> counter;
  std::function<int64_t()> expected_total;
  if (options.progress != nullptr) {
    counter.emplace(options, options.stop);
    expected_total = [&] {
      const int64_t total = counter->total();
      return total < 0 ? total : std::max<int64_t>(0, total - unchanged.load());
    };
  }

  ScanSummary summary;
  try {
    summary = run_scan_stages(options, manifest, "walk", walk, expected_total, "files", counts);
  } catch (...) {
    counter.reset();  // stops the counting thread before the run is recorded as failed
    throw;
  }
  counter.reset();

  summary.unchanged = unchanged.load();
  summary.walk_errors = walk_errors.load();
  // Only after a whole walk: a stopped one has not met every file that is there.
  if (!summary.stopped)
    summary.removed = remove_vanished(manifest, options.roots, rows_under, known);

  std::map<std::string, int64_t> run_counts = counts;
  run_counts["unchanged"] = summary.unchanged;
  run_counts["removed"] = summary.removed;
  run_counts["ignored"] = summary.ignored;
  run_counts["walk_errors"] = summary.walk_errors;
  run.record_stages("scan", summary.engine);
  run.finish(summary.stopped, run_counts);
  return summary;
}

}  // namespace vpipe
