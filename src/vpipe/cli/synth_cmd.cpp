#include <chrono>
#include <memory>

#include <fmt/format.h>

#include "vpipe/cli/commands.h"
#include "vpipe/cli/summaries.h"
#include "vpipe/core/json.h"
#include "vpipe/synth/synth.h"

namespace vpipe::cli {

void add_synth_command(CLI::App& app, int* exit_code) {
  struct Args {
    std::string out;
    int count = 2000;
    uint64_t seed = 1;
    std::string mix = "curate";
    int threads = 0;
    bool json = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("synth", "write a deterministic corpus with known duplicates and defects, and its truth.csv");
  cmd->add_option("out", args->out, "output directory")->required();
  cmd->add_option("-n,--n", args->count, "number of files")->capture_default_str()->check(CLI::Range(1, 100'000'000));
  cmd->add_option("--seed", args->seed, "same seed, count and mix: byte-identical corpus")->capture_default_str();
  cmd->add_option("--mix", args->mix, "curate (duplicates, defects, broken files, formats), photos (1-3 MP JPEGs), small (64-256 px JPEGs)")->capture_default_str()
      ->check(CLI::IsMember({"curate", "photos", "small"}));
  cmd->add_option("--threads", args->threads, "worker threads (default: all cores); output does not depend on it");
  cmd->add_flag("--json", args->json, "print the summary as one JSON object on stdout, no text (docs/CLI.md)");
  cmd->callback([args, exit_code] {
    SynthOptions options;
    options.out_dir = args->out;
    options.count = args->count;
    options.seed = args->seed;
    options.mix = args->mix == "photos" ? SynthMix::kPhotos
                  : args->mix == "small" ? SynthMix::kSmall
                                         : SynthMix::kCurate;
    options.threads = args->threads;
    const auto start = std::chrono::steady_clock::now();
    const SynthSummary s = synthesize(options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    *exit_code = 0;
    if (args->json) {
      JsonObject synth;
      synth.add("files", s.files).add("kinds", s.kinds).add("truth", json_path(s.truth_csv));
      JsonObject o;
      o.add("command", "synth").add("out", json_path(args->out)).add("seconds", seconds).add("synth", synth);
      fmt::print("{}\n", o.str());
      return;
    }
    fmt::print("wrote {} files to {} in {:.1f} s\n", s.files, args->out, seconds);
    for (const auto& [kind, n] : s.kinds) fmt::print("  {:<16}{:>8}\n", kind, n);
    fmt::print("truth: {}\n", s.truth_csv.string());
  });
}

}  // namespace vpipe::cli
