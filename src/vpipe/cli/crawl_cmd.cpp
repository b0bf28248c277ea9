#include <iostream>
#include <memory>

#include <fmt/format.h>

#include "vpipe/cli/commands.h"
#include "vpipe/cli/stop_signal.h"
#include "vpipe/cli/summaries.h"
#include "vpipe/core/json.h"
#include "vpipe/device/devices.h"
#include "vpipe/pipeline/run.h"

namespace vpipe::cli {
namespace {

struct CrawlArgs {
  bool json = false;
  IngestConfig ingest;  // the same settings as the config's `ingest:` section
  std::string db;
  std::vector<std::string> resolve;
  bool insecure = false;
  int threads = 0;
  bool lenient = false;
  double max_megapixels = 200;
  bool progress = false;
  std::string trace;
};

std::string config_json(const CrawlArgs& a, int threads) {
  const IngestConfig& i = a.ingest;
  std::string lists;
  for (const auto& l : i.urls) lists += (lists.empty() ? "" : ",") + json_quote(l);
  return fmt::format(
      R"({{"command":"crawl","urls":[{}],"out":{},"url_field":{},"header":{},"user_agent":{},)"
      R"("connections":{},"connections_per_host":{},"requests_per_second_per_host":{},)"
      R"("attempts":{},"connect_timeout_s":{},"timeout_s":{},"max_file_mib":{},)"
      R"("max_redirects":{},"robots":{},"deny_private_addresses":{},"retry_failed":{},)"
      R"("verify_tls":{},"threads":{}}})",
      lists, json_quote(i.out), json_quote(i.url_field), i.header, json_quote(i.user_agent),
      i.connections, i.connections_per_host, i.requests_per_second_per_host, i.attempts,
      i.connect_timeout_s, i.timeout_s, i.max_file_mib, i.max_redirects, i.robots,
      i.deny_private_addresses, i.retry_failed, !a.insecure, threads);
}

int run(const CrawlArgs& a) {
  install_stop_handlers();
  const DeviceInventory inventory = probe_devices();
  CrawlPassOptions options = crawl_pass_options(a.ingest);
  options.fetch.resolve = a.resolve;
  options.fetch.verify_tls = !a.insecure;
  ScanOptions& scan = options.scan;
  scan.db = a.db;
  scan.threads = a.threads > 0 ? a.threads : inventory.cpu.logical_cores;
  scan.decode.lenient = a.lenient;
  scan.decode.max_pixels = static_cast<uint64_t>(a.max_megapixels * 1e6);
  scan.progress = a.progress ? &std::cerr : nullptr;
  scan.trace_path = a.trace;
  scan.stop = &stop_requested();
  scan.device = Device::cpu();
  scan.config_json = config_json(a, scan.threads);

  const CrawlPassSummary s = run_crawl_pass(options);
  if (a.json) {
    JsonObject o;
    o.add("command", "crawl").add("manifest", json_path(a.db)).add("images", json_path(a.ingest.out));
    fmt::print("{}\n", o.add("crawl", crawl_json(s)).str());
  } else {
    print_crawl_summary(s);
    fmt::print("images: {}\nmanifest: {}\n", a.ingest.out, a.db);
    if (!a.trace.empty()) fmt::print("trace: {} (open in https://ui.perfetto.dev or chrome://tracing)\n", a.trace);
  }
  std::fflush(stdout);
  if (s.stopped) {
    return interrupted_exit(
        fmt::format("{} URLs left pending; rerun the same command to continue", s.unfinished));
  }
  return 0;
}

}  // namespace

void add_crawl_command(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<CrawlArgs>();
  IngestConfig& i = args->ingest;
  CLI::App* cmd = app.add_subcommand("crawl", "fetch images from URL lists (plain, CSV, TSV, JSONL) into a folder and scan each one into the manifest as it lands; resumable (docs/CRAWL.md)");
  cmd->add_option("lists", i.urls, "URL list files: plain (one URL per line), .csv, .tsv, .jsonl")->required();
  cmd->add_option("--out", i.out, "folder the images are written to (<2 hex>/<hash of the URL>.<ext>)")->required();
  cmd->add_option("--db", args->db, "the manifest (SQLite); created if missing, resumed if present")->required();
  cmd->add_option("--url-field", i.url_field, "CSV/TSV column or JSONL field holding the URL (a 1-based number with --no-header)")->capture_default_str();
  // Callbacks rather than "!" flags, whose help reads "--no-header{false}" (switches.h).
  cmd->add_flag_callback("--no-header", [args] { args->ingest.header = false; }, "CSV/TSV lists have no header row");
  cmd->add_option("--user-agent", i.user_agent, "User-Agent of every request (robots.txt groups match its first word)")->capture_default_str();
  cmd->add_option("--connections", i.connections, "transfers in flight, all hosts together")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--per-host", i.connections_per_host, "transfers in flight per host")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--rate", i.requests_per_second_per_host, "request starts per host per second (0 = no limit)")->capture_default_str()->check(CLI::Range(0.0, 1e6));
  cmd->add_option("--attempts", i.attempts, "tries per URL on timeouts, network errors, 429 and 5xx (back-off with jitter, Retry-After honoured)")->capture_default_str()->check(CLI::Range(1, 100));
  cmd->add_option("--connect-timeout", i.connect_timeout_s, "seconds to wait for a connection")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--timeout", i.timeout_s, "seconds a whole transfer may take, redirects included")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--max-file-mib", i.max_file_mib, "abandon bodies larger than this (after decompression) as too_large")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--max-redirects", i.max_redirects, "redirects followed per URL")->capture_default_str()->check(CLI::Range(0, 100));
  cmd->add_flag_callback("--no-robots", [args] { args->ingest.robots = false; }, "do not fetch or honour robots.txt (only for hosts you own)");
  cmd->add_flag("--deny-private", i.deny_private_addresses, "refuse loopback, private, link-local and other internal addresses on every hop");
  cmd->add_flag("--retry-failed", i.retry_failed, "also fetch again URLs that failed for a reason that may pass (timeouts, network errors, 429, 5xx)");
  cmd->add_option("--resolve", args->resolve, "HOST:PORT:ADDRESS: connect to ADDRESS for HOST:PORT, as curl's --resolve (repeatable)");
  cmd->add_flag("--insecure", args->insecure, "do not verify TLS certificates");
  cmd->add_option("--threads", args->threads, "scan workers for the downloads (default: all cores)")->check(CLI::Range(1, 1024));
  cmd->add_flag("--lenient-decode", args->lenient, "keep images the codec decoded with a warning (e.g. truncated JPEG) as ok");
  cmd->add_option("--max-megapixels", args->max_megapixels, "refuse images over this many megapixels")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_flag("--progress", args->progress, "live progress on stderr: URLs/s, ETA, bottleneck");
  cmd->add_flag("--json", args->json, "print the summary as one JSON object on stdout, no text (docs/CLI.md)");
  cmd->add_option("--trace", args->trace, "write a Chrome/Perfetto trace of the run to this file");
  cmd->callback([args, exit_code] { *exit_code = run(*args); });
}

}  // namespace vpipe::cli
