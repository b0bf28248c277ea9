#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "vpipe/cli/commands.h"
#include "vpipe/cli/stop_signal.h"
#include "vpipe/cli/summaries.h"
#include "vpipe/cli/switches.h"
#include "vpipe/core/error.h"
#include "vpipe/curate/actions.h"
#include "vpipe/curate/dedup_pass.h"
#include "vpipe/device/devices.h"
#include "vpipe/io/manifest.h"
#include "vpipe/pipeline/config.h"

namespace vpipe::cli {
namespace {

struct DedupArgs {
  std::string db;
  std::vector<std::string> sets;  ///< --set key=value over --config (or the defaults)
  bool json = false;
  std::string config;
  std::string match;
  int phash_threshold = 0;
  int dhash_threshold = 0;
  int variant_margin = 0;
  std::string method;
  std::string keeper;
  std::string store_pairs;
  bool no_exact = false;
  bool no_near = false;
  bool no_chain_guard = false;
  bool orientations = true;
  bool crops = true;
  bool no_quality = false;
  bool auto_thresholds = false;
  bool explain = false;
  int threads = 0;
  std::string device = "auto";
  int64_t gpu_min_images = -1;
  ActionsConfig actions;
  bool no_wait = false;
  // Options given on the command line (they override the config file).
  CLI::Option* match_opt = nullptr;
  CLI::Option* phash_opt = nullptr;
  CLI::Option* dhash_opt = nullptr;
  CLI::Option* variant_margin_opt = nullptr;
  CLI::Option* method_opt = nullptr;
  CLI::Option* keeper_opt = nullptr;
  CLI::Option* store_pairs_opt = nullptr;
  CLI::Option* device_opt = nullptr;
  bool orientations_given = false;  ///< --orientations or --no-orientations was named
  bool crops_given = false;
};

std::vector<KeeperCriterion> parse_keeper_order(const std::string& text) {
  std::vector<KeeperCriterion> order;
  std::stringstream in(text);
  std::string name;
  while (std::getline(in, name, ',')) {
    const auto c = keeper_criterion_from_string(name);
    if (!c) {
      throw UsageError(fmt::format(
          "--keeper: unknown criterion '{}' (use pixels, least_degraded, quality, oldest, "
          "shortest_path)", name));
    }
    if (std::find(order.begin(), order.end(), *c) != order.end()) {
      throw UsageError(fmt::format("--keeper: '{}' is given twice", name));
    }
    order.push_back(*c);
  }
  return order;
}

int run(const DedupArgs& a) {
  install_stop_handlers();
  DedupPassOptions options;
  ActionsConfig actions;
  DeviceRequest device = parse_device_request(a.device, "--device");
  if (!a.config.empty() || !a.sets.empty()) {
    PipelineConfig config = a.config.empty() ? PipelineConfig() : load_pipeline_config(a.config);
    apply_config_overrides(config, a.sets);
    if (a.device_opt->count() == 0) device = parse_device_request(config.device, "device");
    options.gpu_join_min_hashes = static_cast<size_t>(config.devices.gpu_dedup_min_images);
    options.dedup = config.dedup;
    options.quality = config.quality;
    actions = config.actions;
  }
  DedupOptions& d = options.dedup;
  if (a.match_opt->count() > 0) {
    const auto m = near_match_from_string(a.match);
    if (!m) throw UsageError("--match: use phash, dhash, both or either");
    d.match = *m;
  }
  if (a.phash_opt->count() > 0) d.phash_threshold = a.phash_threshold;
  if (a.dhash_opt->count() > 0) d.dhash_threshold = a.dhash_threshold;
  if (a.variant_margin_opt->count() > 0) d.variant_margin = a.variant_margin;
  if (a.method_opt->count() > 0) d.method = a.method;
  if (a.keeper_opt->count() > 0) d.keeper_order = parse_keeper_order(a.keeper);
  if (a.store_pairs_opt->count() > 0) d.store_pairs = *pair_store_from_string(a.store_pairs);
  if (a.no_exact) d.exact = false;
  if (a.no_near) d.near = false;
  if (a.no_chain_guard) d.chain_guard = false;
  if (a.orientations_given) d.orientations = a.orientations;
  if (a.crops_given) d.crops = a.crops;
  if (a.threads > 0) d.threads = a.threads;
  options.device = select_device(probe_devices(), device);
  if (a.gpu_min_images >= 0) options.gpu_join_min_hashes = static_cast<size_t>(a.gpu_min_images);
  if (a.auto_thresholds) options.quality.auto_thresholds = true;
  options.quality_enabled = !a.no_quality;
  options.explain_keepers = a.explain;
  for (auto [from, to] : {std::pair{&a.actions.copy_keepers, &actions.copy_keepers},
                          std::pair{&a.actions.link_keepers, &actions.link_keepers},
                          std::pair{&a.actions.move_rejects, &actions.move_rejects},
                          std::pair{&a.actions.move_duplicates, &actions.move_duplicates}}) {
    if (!from->empty()) *to = *from;
  }
  // "keeper" as in the pipeline config's record, so the report explains keepers by this order.
  std::string keeper_json;
  for (KeeperCriterion c : d.keeper_order) {
    keeper_json += fmt::format("{}\"{}\"", keeper_json.empty() ? "" : ",", to_string(c));
  }
  options.config_json = fmt::format(
      R"({{"command":"dedup","match":"{}","phash_threshold":{},"dhash_threshold":{},"variant_margin":{},"exact":{},"near":{},"chain_guard":{},"orientations":{},"crops":{},"store_pairs":"{}","quality":{},"keeper":[{}]}})",
      to_string(d.match), d.phash_threshold, d.dhash_threshold, d.variant_margin, d.exact, d.near, d.chain_guard,
      d.orientations, d.crops, to_string(d.store_pairs), options.quality_enabled, keeper_json);

  if (!std::filesystem::exists(a.db)) {
    throw UsageError(fmt::format("dedup: manifest '{}' does not exist (run `vpipe scan` first)", a.db));
  }
  // Actions act on the files of this pass's decisions: no other action run may act on this
  // manifest from before the pass to the end of the actions.
  std::optional<FileLock> action_lock;
  if (!actions.copy_keepers.empty() || !actions.link_keepers.empty() ||
      !actions.move_rejects.empty() || !actions.move_duplicates.empty()) {
    action_lock.emplace(lock_actions(a.db, !a.no_wait, &stop_requested()));
    if (!action_lock->held()) {
      return interrupted_exit("while waiting for the other action run");
    }
  }
  Manifest manifest(a.db);
  options.scratch_dir = std::filesystem::absolute(a.db).parent_path();
  const DedupPassSummary summary = run_dedup_pass(manifest, options);
  if (!a.json) {
    print_dedup_summary(summary);
    if (a.explain) print_keeper_reasons(summary);
  }

  ActionOptions action_options;
  action_options.copy_keepers = actions.copy_keepers;
  action_options.link_keepers = actions.link_keepers;
  action_options.move_rejects = actions.move_rejects;
  action_options.move_duplicates = actions.move_duplicates;
  action_options.stop = &stop_requested();
  const ActionSummary done = run_actions(manifest, action_options);
  if (a.json) {
    JsonObject o;
    o.add("command", "dedup").add("manifest", json_path(a.db)).add("dedup", dedup_json(summary));
    o.add("actions", action_json(done));
    if (a.explain) o.add_raw("keepers", keeper_reasons_json(summary));
    fmt::print("{}\n", o.str());
  } else {
    print_action_summary(done);
    fmt::print("manifest: {}\n", a.db);
  }
  std::fflush(stdout);
  if (done.stopped || stop_requested().load()) {
    return interrupted_exit("rerun the same command to finish (done actions are kept)");
  }
  return done.failed > 0 ? 1 : 0;
}

}  // namespace

void add_action_options(CLI::App* cmd, ActionsConfig& actions, bool& no_wait) {
  cmd->add_option("--copy-keepers", actions.copy_keepers, "copy every kept file into this directory");
  cmd->add_option("--link-keepers", actions.link_keepers, "hard-link every kept file into this directory (symlink across filesystems)");
  cmd->add_option("--move-rejects", actions.move_rejects, "move every rejected file into this directory (journaled: `vpipe undo` puts it back)");
  cmd->add_option("--move-duplicates", actions.move_duplicates, "move every duplicate (non-keeper) into this directory (journaled)");
  cmd->add_flag("--no-wait", no_wait, "when another action run holds the manifest, fail (exit 75) instead of waiting for it");
}

void add_dedup_command(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<DedupArgs>();
  CLI::App* cmd = app.add_subcommand("dedup", "group exact and near duplicates, pick a keeper per group, apply the quality rules; decisions go to the manifest");
  cmd->add_option("db", args->db, "the manifest written by `vpipe scan`")->required();
  cmd->add_option("--config", args->config, "take dedup:, quality: and actions: from this pipeline YAML (options below override it)");
  cmd->add_option("--set", args->sets, "override a key of dedup:, quality: or actions: (over --config): --set dedup.phash_threshold=8 (repeatable; checked as in the YAML)")->allow_extra_args(false);
  args->match_opt = cmd->add_option("--match", args->match, "which hashes must agree: phash, dhash, both (default) or either");
  args->phash_opt = cmd->add_option("--phash-threshold", args->phash_threshold, "max pHash Hamming distance of a near pair (default 14)")->check(CLI::Range(0, 32));
  args->dhash_opt = cmd->add_option("--dhash-threshold", args->dhash_threshold, "max dHash Hamming distance of a near pair (default 14)")->check(CLI::Range(0, 32));
  args->variant_margin_opt = cmd->add_option("--variant-margin", args->variant_margin, "a match through a turned copy or crop window must be within each threshold less this (default 2)")->check(CLI::Range(0, 32));
  args->method_opt = cmd->add_option("--method", args->method, "Hamming search: auto, brute or mih")->check(CLI::IsMember({"auto", "brute", "mih"}));
  args->keeper_opt = cmd->add_option("--keeper", args->keeper, "keeper criteria in order, comma-separated (default pixels,least_degraded,oldest,quality,shortest_path)");
  args->store_pairs_opt = cmd->add_option("--store-pairs", args->store_pairs, "near pairs kept in the manifest: forest (default: the pair by which each member joined its group), all, or none")->check(CLI::IsMember({"none", "forest", "all"}));
  cmd->add_flag("--no-exact", args->no_exact, "do not group byte-identical files");
  cmd->add_flag("--no-near", args->no_near, "do not group perceptual near duplicates");
  cmd->add_flag("--no-chain-guard", args->no_chain_guard, "keep members joined only through a chain of near pairs");
  add_switch(cmd, "orientations", &args->orientations,
             "match copies turned 90/180/270 degrees or mirrored too (the default; needs the "
             "scan's orientation hashes)",
             &args->orientations_given);
  add_switch(cmd, "crops", &args->crops,
             "match copies cropped to about 85..95% of each side too (the default; needs the "
             "scan's crop hashes)",
             &args->crops_given);
  cmd->add_flag("--no-quality", args->no_quality, "do not apply the quality rules");
  cmd->add_flag("--explain", args->explain, "print each group's keeper and why it won (also in the report)");
  cmd->add_flag("--json", args->json, "print the summary as one JSON object on stdout, no text (docs/CLI.md)");
  cmd->add_flag("--auto-thresholds", args->auto_thresholds, "quality thresholds from this corpus's own percentiles");
  cmd->add_option("--threads", args->threads, "Hamming search threads (default: all cores)")->check(CLI::Range(1, 1024));
  args->device_opt = cmd->add_option("--device", args->device, "near-pair search on auto, cpu, cuda or cuda:N (the GPU from 500k images, else the CPU)")->capture_default_str();
  cmd->add_option("--gpu-min-images", args->gpu_min_images, "on a GPU, search near pairs there from this many images (default 500000, or devices.gpu_dedup_min_images)")->check(CLI::Range(int64_t{0}, int64_t{4000000000}));
  add_action_options(cmd, args->actions, args->no_wait);
  cmd->callback([args, exit_code] { *exit_code = run(*args); });
}

}  // namespace vpipe::cli
