// The "Examples:" footer of every command's --help: two or three command lines a new user would
// type first. docs/CLI.md has the full reference.

#include "vpipe/cli/commands.h"

#include <string>
#include <utility>
#include <vector>

namespace vpipe::cli {
namespace {

struct CommandExamples {
  const char* command;
  std::vector<std::pair<const char*, const char*>> lines;  // command line, what it does
};

const std::vector<CommandExamples>& all_examples() {
  static const std::vector<CommandExamples> examples = {
      {"crawl",
       {{"vpipe crawl urls.csv --out images --db run.db", "fetch and scan every URL of the list"},
        {"vpipe crawl urls.jsonl --url-field image_url --out images --db run.db --per-host 2 "
         "--rate 5",
         "politer: 2 transfers and 5 requests a second per host"}}},
      {"scan",
       {{"vpipe scan photos --db run.db --progress", "hash and measure every image under photos/"},
        {"find /data -name '*.jpg' -print0 | vpipe scan --list - -0 --db run.db",
         "the files a list names"}}},
      {"synth", {{"vpipe synth corpus --n 2000 --seed 7", "a corpus with a truth.csv"}}},
      {"dedup",
       {{"vpipe dedup run.db --explain", "groups, keepers and verdicts, with each keeper's reason"},
        {"vpipe dedup run.db --phash-threshold 10 --move-duplicates dups --move-rejects rejects",
         "stricter near pairs; move what is not kept (vpipe undo puts it back)"}}},
      {"run",
       {{"vpipe config --defaults > pipeline.yaml", "a config to edit"},
        {"vpipe run pipeline.yaml --progress", "every configured pass, resumable"},
        {"vpipe run pipeline.yaml --link-keepers keepers --report report",
         "and link the keepers, and write the report"}}},
      {"detect",
       {{"vpipe detect photos --db run.db -m blazeface --crops crops", "faces, and a crop of each"},
        {"vpipe detect run.db -m yolov8n.onnx --format yolov8 --labels coco.txt --input 640",
         "your own detector on the keepers of a manifest"}}},
      {"classify",
       {{"vpipe classify run.db -m resnet18.pt --labels imagenet.txt --top-k 5",
         "the 5 best classes of every keeper"}}},
      {"report", {{"vpipe report run.db --out report", "a static HTML report to open from disk"}}},
      {"export",
       {{"vpipe export run.db --format csv --out files.csv", "every file with its verdict"},
        {"vpipe export run.db --format keepers --out - -0 | xargs -0 cp -t keep/",
         "the keepers, for other tools"},
        {"vpipe export run.db --format yolo --out dataset", "the detections as a YOLO dataset"}}},
      {"validate",
       {{"vpipe validate dataset", "a YOLO or COCO dataset, found by its layout"},
        {"vpipe validate --manifest run.db", "the crops a detect run wrote"}}},
      {"undo", {{"vpipe undo run.db", "put back every move and remove every copy and link"}}},
      {"config",
       {{"vpipe config --defaults > pipeline.yaml", "the default config, commented"},
        {"vpipe config --check pipeline.yaml", "check a config without running it"}}},
      {"devices",
       {{"vpipe devices", "the CPU, the GPUs and the defaults vpipe derives from them"},
        {"vpipe devices --json", "the same for scripts"}}},
  };
  return examples;
}

}  // namespace

void add_help_examples(CLI::App& app) {
  for (const CommandExamples& e : all_examples()) {
    CLI::App* command = app.get_subcommand(e.command);  // throws for a command not added
    std::string footer = "\nExamples:\n";
    for (const auto& [line, what] : e.lines) {
      footer += std::string("  ") + line + "\n      " + what + "\n";
    }
    command->footer(footer);
  }
}

}  // namespace vpipe::cli
