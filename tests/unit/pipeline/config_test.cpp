#include "vpipe/pipeline/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "vpipe/core/error.h"

namespace vpipe {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

const std::filesystem::path kSourceDir = VPIPE_SOURCE_DIR;

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

PipelineConfig parse(std::string_view text, const std::filesystem::path& base = "/base") {
  return parse_pipeline_config(text, "pipeline.yaml", base);
}

/// The ConfigError message of parsing `text` (manifest given unless the text sets it).
std::string error_of(const std::string& text) {
  try {
    (void)parse(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for:\n" << text;
  return {};
}

PipelineConfig with_manifest(PipelineConfig config, std::string manifest) {
  config.manifest = std::move(manifest);
  return config;
}

TEST(PipelineConfig, EmptyFileIsAllDefaultsButNeedsAManifest) {
  EXPECT_EQ(error_of(""), "pipeline.yaml: missing required key 'manifest': " +
                              std::string(pipeline_config_fields()[3].doc));
  EXPECT_THAT(error_of("{}"), HasSubstr("missing required key 'manifest'"));
  EXPECT_THAT(error_of("# only a comment\n"), HasSubstr("missing required key 'manifest'"));

  const PipelineConfig config = parse("manifest: run.db\n");
  EXPECT_EQ(pipeline_config_values(config),
            pipeline_config_values(with_manifest(PipelineConfig{}, "/base/run.db")));
  EXPECT_EQ(config.source, "pipeline.yaml");
  EXPECT_EQ(config.device, "auto");
  EXPECT_EQ(config.dedup.phash_threshold, DedupOptions{}.phash_threshold);
  EXPECT_EQ(config.quality.blurry.threshold, QualityRules{}.blurry.threshold);
  EXPECT_TRUE(config.inputs.empty());
}

TEST(PipelineConfig, EmptySectionsTakeDefaults) {
  const PipelineConfig config = parse("manifest: run.db\nscan:\ndedup:\nquality:\n  blurry:\n");
  EXPECT_EQ(pipeline_config_values(config),
            pipeline_config_values(with_manifest(PipelineConfig{}, "/base/run.db")));
}

TEST(PipelineConfig, FullExample) {
  const PipelineConfig c = parse(R"(
inputs: [photos/, /data/more, ../shared/a.jpg]
input_list: lists/files.txt
null_delimited: true
manifest: out/run.db
device: cuda:1
scan: {threads: 8, force: true, lenient_decode: true, max_megapixels: 50.5, max_file_mib: 64,
       orientations: true}
dedup:
  exact: false
  near: true
  match: either
  phash_threshold: 6
  dhash_threshold: 7
  variant_margin: 3
  method: mih
  chain_guard: false
  orientations: true
  keeper: [quality, shortest_path]
  threads: 3
quality:
  blurry:          {enabled: false, max_edge_width: 12.5}
  dark:            {enabled: true, min_highlight: 20}
  overexposed:     {max_clipped: 0.4}
  low_contrast:    {min_contrast: 5}
  low_information: {min_entropy: 2.5}
  tiny:            {min_side: 64}
  extreme_aspect:  {enabled: false, max_ratio: 4}
  corrupt:         {enabled: true, include_damaged: false}
  auto_thresholds: true
  auto_percentile: 2.5
actions: {copy_keepers: keep, link_keepers: "", move_rejects: /abs/rejects, move_duplicates: dup}
report: {out: report, page_size: 50, thumbnail_size: 256}
)");
  EXPECT_EQ(c.inputs, (std::vector<std::string>{"/base/photos/", "/data/more", "/shared/a.jpg"}));
  EXPECT_EQ(c.input_list, "/base/lists/files.txt");
  EXPECT_TRUE(c.null_delimited);
  EXPECT_EQ(c.manifest, "/base/out/run.db");
  EXPECT_EQ(c.device, "cuda:1");
  EXPECT_EQ(c.scan.threads, 8);
  EXPECT_TRUE(c.scan.force);
  EXPECT_TRUE(c.scan.lenient_decode);
  EXPECT_EQ(c.scan.max_megapixels, 50.5);
  EXPECT_EQ(c.scan.max_file_mib, 64);
  EXPECT_TRUE(c.scan.orientations);
  EXPECT_FALSE(c.dedup.exact);
  EXPECT_TRUE(c.dedup.near);
  EXPECT_EQ(c.dedup.match, NearMatch::kEither);
  EXPECT_EQ(c.dedup.phash_threshold, 6);
  EXPECT_EQ(c.dedup.dhash_threshold, 7);
  EXPECT_EQ(c.dedup.variant_margin, 3);
  EXPECT_EQ(c.dedup.method, "mih");
  EXPECT_FALSE(c.dedup.chain_guard);
  EXPECT_TRUE(c.dedup.orientations);
  EXPECT_EQ(c.dedup.keeper_order, (std::vector<KeeperCriterion>{KeeperCriterion::kQuality,
                                                                KeeperCriterion::kShortestPath}));
  EXPECT_EQ(c.dedup.threads, 3);
  EXPECT_FALSE(c.quality.blurry.enabled);
  EXPECT_EQ(c.quality.blurry.threshold, 12.5);
  EXPECT_TRUE(c.quality.dark.enabled);
  EXPECT_EQ(c.quality.dark.threshold, 20);
  EXPECT_TRUE(c.quality.overexposed.enabled);
  EXPECT_EQ(c.quality.overexposed.threshold, 0.4);
  EXPECT_EQ(c.quality.low_contrast.threshold, 5);
  EXPECT_EQ(c.quality.low_information.threshold, 2.5);
  EXPECT_EQ(c.quality.tiny.threshold, 64);
  EXPECT_FALSE(c.quality.extreme_aspect.enabled);
  EXPECT_EQ(c.quality.extreme_aspect.threshold, 4);
  EXPECT_TRUE(c.quality.reject_corrupt);
  EXPECT_FALSE(c.quality.damaged_is_corrupt);
  EXPECT_TRUE(c.quality.auto_thresholds);
  EXPECT_EQ(c.quality.auto_percentile, 2.5);
  EXPECT_EQ(c.actions.copy_keepers, "/base/keep");
  EXPECT_EQ(c.actions.link_keepers, "");
  EXPECT_EQ(c.actions.move_rejects, "/abs/rejects");
  EXPECT_EQ(c.actions.move_duplicates, "/base/dup");
  EXPECT_EQ(c.report.out, "/base/report");
  EXPECT_EQ(c.report.page_size, 50);
  EXPECT_EQ(c.report.thumbnail_size, 256);
}

TEST(PipelineConfig, InputsMayBeOneString) {
  EXPECT_EQ(parse("manifest: m.db\ninputs: photos\n").inputs,
            std::vector<std::string>{"/base/photos"});
  EXPECT_EQ(parse("manifest: m.db\ninputs:\n  - a\n  - b\n").inputs,
            (std::vector<std::string>{"/base/a", "/base/b"}));
  EXPECT_TRUE(parse("manifest: m.db\ninputs:\n").inputs.empty());
  EXPECT_TRUE(parse("manifest: m.db\ninputs: []\n").inputs.empty());
}

TEST(PipelineConfig, AKeyWithNoValueIsEmptyForStringsAndAnErrorOtherwise) {
  const PipelineConfig c = parse("manifest: m\nreport:\n  out:\nactions: {move_rejects: ~}\n");
  EXPECT_EQ(c.report.out, "");
  EXPECT_EQ(c.actions.move_rejects, "");
  EXPECT_EQ(error_of("manifest: m\ndevice:\n"),
            "pipeline.yaml:2: device: expected auto, cpu, cuda or cuda:N, got no value");
  EXPECT_EQ(error_of("manifest: m\ndedup:\n  match:\n"),
            "pipeline.yaml:3: dedup.match: expected one of phash, dhash, both, either, got no "
            "value");
  EXPECT_EQ(error_of("manifest:\n"), "pipeline.yaml:1: manifest: expected a path, got no value");
}

TEST(PipelineConfig, RelativePathsAreResolvedAgainstTheFilesDirectory) {
  const PipelineConfig c = parse(
      "manifest: ./runs/../run.db\ninput_list: '-'\ninputs: [a/b, /abs]\n"
      "report: {out: ../r}\n",
      "/projects/x");
  EXPECT_EQ(c.manifest, "/projects/x/run.db");
  EXPECT_EQ(c.input_list, "-") << "'-' is standard input, not a file next to the config";
  EXPECT_EQ(c.inputs, (std::vector<std::string>{"/projects/x/a/b", "/abs"}));
  EXPECT_EQ(c.report.out, "/projects/r");

  // Without a base directory, paths stay as written (relative to the working directory).
  EXPECT_EQ(parse("manifest: run.db\n", "").manifest, "run.db");
}

TEST(PipelineConfig, DevicesOverrideTheDeviceDefaultsWithinBounds) {
  const PipelineConfig c = parse(
      "manifest: run.db\ndevices:\n  memory_budget_mib: 4096\n  gpu_dedup_min_images: 0\n"
      "infer:\n  max_batch: 16\n");
  EXPECT_EQ(c.devices.memory_budget_mib, 4096);
  EXPECT_EQ(c.devices.gpu_dedup_min_images, 0);
  EXPECT_EQ(c.infer.max_batch, 16);
  // 0 everywhere means "the device decides" (DeviceDefaults).
  const PipelineConfig d = parse("manifest: run.db\n");
  EXPECT_EQ(d.devices.memory_budget_mib, 0);
  EXPECT_EQ(d.infer.max_batch, 0);
  EXPECT_EQ(d.scan.threads, 0);
  EXPECT_THAT(error_of("manifest: run.db\ndevices: {memory_budget_mib: -1}\n"),
              HasSubstr("devices.memory_budget_mib"));
  EXPECT_THAT(error_of("manifest: run.db\ndevices: {batch: 3}\n"), HasSubstr("devices.batch"));
}

TEST(PipelineConfig, IngestTakesListsAndAFolderAndRefusesListsWithoutOne) {
  const PipelineConfig c = parse(
      "manifest: run.db\ningest:\n  urls: [lists/a.tsv, /data/b.jsonl]\n  out: images\n"
      "  url_field: URL\n  header: false\n  connections_per_host: 2\n  timeout_s: 2.5\n"
      "  robots: false\n  retry_failed: true\n",
      "/projects/x");
  EXPECT_EQ(c.ingest.urls, (std::vector<std::string>{"/projects/x/lists/a.tsv", "/data/b.jsonl"}));
  EXPECT_EQ(c.ingest.out, "/projects/x/images");
  EXPECT_EQ(c.ingest.url_field, "URL");
  EXPECT_FALSE(c.ingest.header);
  EXPECT_EQ(c.ingest.connections_per_host, 2);
  EXPECT_DOUBLE_EQ(c.ingest.timeout_s, 2.5);
  EXPECT_FALSE(c.ingest.robots);
  EXPECT_TRUE(c.ingest.retry_failed);
  // Defaults are the fetcher's own.
  const PipelineConfig d = parse("manifest: run.db\n");
  EXPECT_TRUE(d.ingest.urls.empty());
  EXPECT_EQ(d.ingest.connections_per_host, FetchOptions{}.max_connections_per_host);
  EXPECT_EQ(d.ingest.user_agent, FetchOptions{}.user_agent);
  EXPECT_TRUE(d.ingest.robots);

  EXPECT_THAT(error_of("manifest: run.db\ningest: {urls: a.txt}\n"), HasSubstr("ingest.out"));
  EXPECT_THAT(error_of("manifest: run.db\ningest: {urls: a.txt, out: i, connections: 0}\n"),
              HasSubstr("ingest.connections"));
  EXPECT_THAT(error_of("manifest: run.db\ningest: {urls: a.txt, out: i, timeout_s: 0}\n"),
              HasSubstr("ingest.timeout_s"));
}

TEST(PipelineConfig, LoadResolvesAgainstTheFileAndNamesItInErrors) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("vpipe_config_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / "pipeline.yaml";
  {
    std::ofstream out(file);
    out << "manifest: run.db\ninputs: photos/\n";
  }
  const PipelineConfig c = load_pipeline_config(file);
  EXPECT_EQ(c.manifest, (dir / "run.db").string());
  EXPECT_EQ(c.inputs, std::vector<std::string>{(dir / "photos/").string()});
  EXPECT_EQ(c.source, file.string());
  {
    std::ofstream out(file);
    out << "manifest: run.db\nscan:\n  treads: 4\n";
  }
  try {
    (void)load_pipeline_config(file);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              file.string() + ":3: unknown key 'scan.treads' (did you mean 'threads'?)");
  }
  EXPECT_THROW((void)load_pipeline_config(dir / "missing.yaml"), IoError);
  EXPECT_THROW((void)load_pipeline_config(dir), IoError);
  std::filesystem::remove_all(dir);
}

TEST(PipelineConfigErrors, UnknownKeysNameTheFullKeyAndLine) {
  EXPECT_EQ(
      error_of("manifest: run.db\n"
               "dedup:\n"
               "  exact: true\n"
               "  phash_treshold: 5\n"),
      "pipeline.yaml:4: unknown key 'dedup.phash_treshold' (did you mean 'phash_threshold'?)");
  EXPECT_EQ(error_of("manifest: run.db\nquality:\n  blurry:\n    max_edge_widht: 3\n"),
            "pipeline.yaml:4: unknown key 'quality.blurry.max_edge_widht' "
            "(did you mean 'max_edge_width'?)");
  EXPECT_EQ(error_of("manifest: run.db\nbanana: 1\n"), "pipeline.yaml:2: unknown key 'banana'");
  // A key in the wrong section points at where it belongs.
  EXPECT_EQ(error_of("manifest: run.db\nthreads: 4\n"),
            "pipeline.yaml:2: unknown key 'threads' (did you mean 'scan.threads' or "
            "'dedup.threads'?)");
  EXPECT_EQ(error_of("manifest: run.db\nscan:\n  blurry: {}\n"),
            "pipeline.yaml:3: unknown key 'scan.blurry' (did you mean 'quality.blurry'?)");
  // A typo of a section name.
  EXPECT_EQ(error_of("manifest: run.db\ndedupe:\n  exact: true\n"),
            "pipeline.yaml:2: unknown key 'dedupe' (did you mean 'dedup'?)");
}

TEST(PipelineConfigErrors, DuplicateKeys) {
  EXPECT_EQ(error_of("manifest: run.db\nscan:\n  threads: 1\n  force: true\n  threads: 2\n"),
            "pipeline.yaml:5: duplicate key 'scan.threads' (first given on line 3)");
}

TEST(PipelineConfigErrors, WrongTypes) {
  EXPECT_EQ(error_of("manifest: run.db\n\n\n\n\ndedup:\n  phash_threshold: ten\n"),
            "pipeline.yaml:7: dedup.phash_threshold: expected an integer 0..32, got 'ten'");
  EXPECT_EQ(error_of("manifest: run.db\ndedup:\n  phash_threshold: 3.5\n"),
            "pipeline.yaml:3: dedup.phash_threshold: expected an integer 0..32, got '3.5'");
  EXPECT_EQ(error_of("manifest: run.db\ndedup:\n  phash_threshold: \"10\"\n"),
            "pipeline.yaml:3: dedup.phash_threshold: expected an integer 0..32, got the quoted "
            "string \"10\"");
  EXPECT_EQ(error_of("manifest: run.db\ndedup:\n  phash_threshold:\n"),
            "pipeline.yaml:3: dedup.phash_threshold: expected an integer 0..32, got no value");
  EXPECT_EQ(error_of("manifest: run.db\ndedup:\n  phash_threshold: [1]\n"),
            "pipeline.yaml:3: dedup.phash_threshold: expected an integer 0..32, got a list");
  EXPECT_EQ(error_of("manifest: run.db\nscan:\n  max_megapixels: lots\n"),
            "pipeline.yaml:3: scan.max_megapixels: expected a number > 0 and <= 1000000, got "
            "'lots'");
  EXPECT_EQ(error_of("manifest: run.db\nscan:\n  max_megapixels: .inf\n"),
            "pipeline.yaml:3: scan.max_megapixels: expected a number > 0 and <= 1000000, got "
            "'.inf'");
  EXPECT_EQ(error_of("manifest: run.db\ninputs: {a: 1}\n"),
            "pipeline.yaml:2: inputs: expected a path or a list of paths, got a map");
  EXPECT_EQ(error_of("manifest: run.db\ninputs: [a, [b]]\n"),
            "pipeline.yaml:2: inputs: expected a path in the list, got a list");
  EXPECT_EQ(error_of("manifest: [a.db]\n"),
            "pipeline.yaml:1: manifest: expected a path, got a list");
  EXPECT_EQ(error_of("manifest: ''\n"),
            "pipeline.yaml:1: manifest: expected a path, got the quoted string \"\"");
}

TEST(PipelineConfigErrors, BooleansAreTrueOrFalseOnly) {
  EXPECT_TRUE(parse("manifest: m\nscan: {force: True}\n").scan.force);
  EXPECT_FALSE(parse("manifest: m\ndedup: {exact: FALSE}\n").dedup.exact);
  for (const std::string word : {"yes", "no", "on", "off", "1", "0", "y"}) {
    EXPECT_EQ(error_of("manifest: run.db\nscan:\n  force: " + word + "\n"),
              "pipeline.yaml:3: scan.force: expected true or false, got '" + word + "'");
  }
  EXPECT_EQ(error_of("manifest: run.db\nscan:\n  force: \"true\"\n"),
            "pipeline.yaml:3: scan.force: expected true or false, got the quoted string \"true\"");
}

TEST(PipelineConfigErrors, OutOfRange) {
  EXPECT_EQ(error_of("manifest: run.db\ndedup:\n  phash_threshold: 33\n"),
            "pipeline.yaml:3: dedup.phash_threshold: expected an integer 0..32, got '33'");
  EXPECT_EQ(error_of("manifest: run.db\ndedup:\n  dhash_threshold: -1\n"),
            "pipeline.yaml:3: dedup.dhash_threshold: expected an integer 0..32, got '-1'");
  EXPECT_EQ(error_of("manifest: run.db\nscan: {threads: 99999999999999999999}\n"),
            "pipeline.yaml:2: scan.threads: expected an integer 0..1024, got "
            "'99999999999999999999'");
  EXPECT_EQ(error_of("manifest: run.db\nscan: {max_megapixels: 0}\n"),
            "pipeline.yaml:2: scan.max_megapixels: expected a number > 0 and <= 1000000, got '0'");
  EXPECT_EQ(error_of("manifest: run.db\nquality:\n  dark: {min_highlight: 300}\n"),
            "pipeline.yaml:3: quality.dark.min_highlight: expected a number 0..255, got '300'");
  EXPECT_EQ(error_of("manifest: run.db\nquality:\n  blurry: {max_edge_width: -1}\n"),
            "pipeline.yaml:3: quality.blurry.max_edge_width: expected a number >= 0, got '-1'");
  EXPECT_EQ(error_of("manifest: run.db\nreport: {page_size: 0}\n"),
            "pipeline.yaml:2: report.page_size: expected an integer 1..100000, got '0'");
  // Within range, integers are numbers too.
  EXPECT_EQ(parse("manifest: m\nquality: {dark: {min_highlight: 1e1}}\n").quality.dark.threshold,
            10);
}

TEST(PipelineConfigErrors, BadChoices) {
  EXPECT_EQ(error_of("manifest: run.db\ndedup:\n  match: eiter\n"),
            "pipeline.yaml:3: dedup.match: expected one of phash, dhash, both, either, got "
            "'eiter' (did you mean 'either'?)");
  EXPECT_EQ(error_of("manifest: run.db\ndedup:\n  method: faiss\n"),
            "pipeline.yaml:3: dedup.method: expected one of auto, brute, mih, got 'faiss'");
  EXPECT_EQ(error_of("manifest: run.db\ndevice: gpu\n"),
            "pipeline.yaml:2: device: expected auto, cpu, cuda or cuda:N, got 'gpu'");
  EXPECT_EQ(error_of("manifest: run.db\ndevice: 'cuda:'\n"),
            "pipeline.yaml:2: device: expected auto, cpu, cuda or cuda:N, got the quoted string "
            "\"cuda:\"");
  for (const std::string device : {"auto", "cpu", "cuda", "cuda:0", "cuda:12"}) {
    EXPECT_EQ(parse("manifest: m\ndevice: " + device + "\n").device, device);
  }
}

TEST(PipelineConfigErrors, KeeperEntries) {
  EXPECT_EQ(error_of("manifest: run.db\ndedup:\n  keeper:\n    - quality\n    - pixels\n"
                     "    - quality\n"),
            "pipeline.yaml:6: dedup.keeper: 'quality' is listed twice; each entry may appear at "
            "most once");
  EXPECT_EQ(error_of("manifest: run.db\ndedup:\n  keeper: [pixels, newest]\n"),
            "pipeline.yaml:3: dedup.keeper: unknown entry 'newest', expected one of pixels, "
            "least_degraded, quality, oldest, shortest_path");
  EXPECT_EQ(error_of("manifest: run.db\ndedup:\n  keeper: [pixel]\n"),
            "pipeline.yaml:3: dedup.keeper: unknown entry 'pixel', expected one of pixels, "
            "least_degraded, quality, oldest, shortest_path (did you mean 'pixels'?)");
  EXPECT_EQ(error_of("manifest: run.db\ndedup:\n  keeper: []\n"),
            "pipeline.yaml:3: dedup.keeper: expected a list of distinct names from pixels, "
            "least_degraded, quality, oldest, shortest_path, got an empty list");
  EXPECT_EQ(parse("manifest: m\ndedup: {keeper: oldest}\n").dedup.keeper_order,
            std::vector<KeeperCriterion>{KeeperCriterion::kOldest});
  EXPECT_EQ(
      parse("manifest: m\ndedup: {keeper: [least_degraded, pixels]}\n").dedup.keeper_order,
      (std::vector<KeeperCriterion>{KeeperCriterion::kLeastDegraded, KeeperCriterion::kPixels}));
}

TEST(PipelineConfigErrors, SectionsMustBeMaps) {
  EXPECT_EQ(error_of("manifest: run.db\ndedup: true\n"),
            "pipeline.yaml:2: dedup: expected a section (a map of keys: exact, near, match, "
            "phash_threshold, dhash_threshold, method, chain_guard, orientations, crops, "
            "variant_margin, store_pairs, keeper, threads), got 'true'");
  EXPECT_EQ(error_of("manifest: run.db\nquality:\n  tiny: [1, 2]\n"),
            "pipeline.yaml:3: quality.tiny: expected a section (a map of keys: enabled, "
            "min_side), got a list");
  EXPECT_THAT(error_of("- manifest: run.db\n"),
              HasSubstr("pipeline.yaml:1: expected a map of keys (inputs, input_list, "));
  EXPECT_THAT(error_of("just text\n"), HasSubstr("got 'just text'"));
}

TEST(PipelineConfigErrors, YamlSyntaxErrorsNameTheLine) {
  EXPECT_THAT(error_of("manifest: run.db\ninputs: [a,\nscan: {threads: 2}\n"),
              ::testing::StartsWith("pipeline.yaml:"));
  EXPECT_EQ(error_of("manifest: run.db\nscan:\n  threads: 1\n force: true\n"),
            "pipeline.yaml:4: YAML syntax error: end of map not found");
  EXPECT_THAT(error_of("manifest: run.db\n---\nmanifest: b.db\n"),
              HasSubstr("expected one YAML document, found 2"));
}

// Found by fuzz/config_yaml_fuzzer.cpp: a stray ',' (the fuzzer's input was ",\0\x06i\0\xf8\x9a")
// made yaml-cpp 0.7's LoadAll loop forever, allocating a null document per turn. Each parse runs
// in a child process with a 10 s alarm, so the old behaviour fails the test instead of hanging it.
TEST(PipelineConfigErrors, AStrayCommaIsASyntaxErrorNotAnEndlessLoop) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string(",\0\x06i\0\xf8\x9a", 7), "pipeline.yaml:1: "},
      {",", "pipeline.yaml:1: "},
      {"manifest: run.db\n---\n,", "pipeline.yaml:3: "},
  };
  for (const auto& [text, where] : cases) {
    EXPECT_EXIT(
        {
          alarm(10);
          std::fprintf(stderr, "%s\n", error_of(text).c_str());
          std::exit(0);
        },
        ::testing::ExitedWithCode(0),
        where + "YAML syntax error: unexpected character: it starts no value")
        << ::testing::PrintToString(text);
  }
}

TEST(PipelineConfigSchema, KeysAreUniqueAndSectionsContiguous) {
  std::set<std::string_view> keys;
  std::set<std::string> closed_sections;
  std::string current_section;
  for (const ConfigField& field : pipeline_config_fields()) {
    EXPECT_TRUE(keys.insert(field.key).second) << field.key;
    EXPECT_FALSE(field.doc.empty()) << field.key;
    EXPECT_TRUE(field.get && field.set) << field.key;
    const std::string_view key = field.key;
    const std::string section(key.substr(0, key.rfind('.') == key.npos ? 0 : key.rfind('.')));
    if (section != current_section) {
      EXPECT_FALSE(closed_sections.contains(section))
          << "the keys of section '" << section << "' are not contiguous (at " << field.key << ")";
      closed_sections.insert(current_section);
      current_section = section;
    }
  }
  for (const ConfigSection& section : pipeline_config_sections()) {
    EXPECT_FALSE(section.doc.empty()) << section.key;
  }
}

TEST(PipelineConfigSchema, DefaultsAreWithinTheirOwnRanges) {
  const PipelineConfig defaults;
  for (const ConfigField& field : pipeline_config_fields()) {
    const ConfigValue value = field.get(defaults);
    double number = 0;
    if (const auto* i = std::get_if<int64_t>(&value)) {
      number = static_cast<double>(*i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      number = *d;
    } else {
      continue;
    }
    EXPECT_GE(number, field.min) << field.key;
    EXPECT_LE(number, field.max) << field.key;
    if (field.min_exclusive) {
      EXPECT_GT(number, field.min) << field.key;
    }
  }
}

TEST(PipelineConfigSchema, SetThenGetIsTheIdentity) {
  // Every field writes the member it reads: set each to a non-default value, check only that
  // field changed.
  for (const ConfigField& field : pipeline_config_fields()) {
    PipelineConfig config;
    const std::vector<ConfigValue> before = pipeline_config_values(config);
    ConfigValue changed = field.get(config);
    if (auto* b = std::get_if<bool>(&changed)) *b = !*b;
    if (auto* i = std::get_if<int64_t>(&changed)) {
      *i = static_cast<double>(*i) == field.min ? *i + 1 : *i - 1;
    }
    if (auto* d = std::get_if<double>(&changed)) {
      const double target = std::isfinite(field.max) ? (field.min + field.max) / 2 : field.min + 7;
      *d = target == *d ? target + 0.5 : target;
    }
    if (auto* s = std::get_if<std::string>(&changed)) {
      if (field.choices.empty()) {
        *s = "other";
      } else {
        *s = field.choices[0] == *s ? field.choices[1] : field.choices[0];
      }
    }
    if (auto* list = std::get_if<std::vector<std::string>>(&changed)) {
      *list = {field.choices.empty() ? "x" : std::string(field.choices.back())};
    }
    field.set(config, changed);
    EXPECT_EQ(field.get(config), changed) << field.key;
    const std::vector<ConfigValue> after = pipeline_config_values(config);
    int differences = 0;
    for (size_t i = 0; i < before.size(); ++i) differences += before[i] != after[i];
    EXPECT_EQ(differences, 1) << field.key << " writes more or less than its own member";
  }
}

TEST(PipelineConfigOutput, YamlRoundTrips) {
  const PipelineConfig defaults = with_manifest(PipelineConfig{}, "/data/run.db");
  EXPECT_EQ(pipeline_config_values(parse(pipeline_config_yaml(defaults))),
            pipeline_config_values(defaults));

  // Non-default values, including strings YAML would otherwise read as something else.
  PipelineConfig c = with_manifest(PipelineConfig{}, "/data/my run: \"x\".db");
  c.inputs = {"/a/true", "/b/#c", "/d/[e]", "/10"};
  c.input_list = "-";
  c.device = "cuda:3";
  c.scan.max_megapixels = 0.1;
  c.scan.max_file_mib = 1e5;
  c.dedup.match = NearMatch::kDhash;
  c.dedup.keeper_order = {KeeperCriterion::kShortestPath, KeeperCriterion::kPixels};
  c.quality.low_information.threshold = 1.0 / 3;
  c.actions.move_rejects = "/tmp/tab\there";
  c.report.out = "/r/ünïcode";
  const PipelineConfig back = parse(pipeline_config_yaml(c));
  EXPECT_EQ(pipeline_config_values(back), pipeline_config_values(c)) << pipeline_config_yaml(c);
}

TEST(PipelineConfigOutput, YamlHasACommentPerKeyWithinOneHundredColumns) {
  const std::string yaml = pipeline_config_yaml(default_pipeline_config_example());
  std::istringstream lines(yaml);
  std::string line;
  std::string previous;
  while (std::getline(lines, line)) {
    EXPECT_LE(line.size(), 100u) << line;
    const size_t first = line.find_first_not_of(' ');
    if (first != std::string::npos && line[first] != '#' && line.back() != ':') {
      EXPECT_THAT(previous, HasSubstr("#")) << "no comment above: " << line;
    }
    previous = line;
  }
}

TEST(PipelineConfigOutput, Json) {
  PipelineConfig c = with_manifest(PipelineConfig{}, "/d/run.db");
  c.source = "p.yaml";
  c.inputs = {"a\"b\\c\n", "\xc3\xa9t\xc3\xa9", "bad\xff"};
  const std::string json = pipeline_config_json(c);
  EXPECT_THAT(json, ::testing::StartsWith(
                        R"({"source":"p.yaml","inputs":["a\"b\\c\u000a","été","bad\udcff"],)"));
  EXPECT_THAT(
      json,
      HasSubstr(R"("manifest":"/d/run.db","device":"auto","devices":{"memory_budget_mib":0,)"));
  EXPECT_THAT(json, HasSubstr(R"("gpu_dedup_min_images":500000},"ingest":{"urls":[],)"));
  EXPECT_THAT(json, HasSubstr(R"("retry_failed":false},"scan":{"threads":0,)"));
  EXPECT_THAT(
      json,
      HasSubstr(R"("keeper":["pixels","least_degraded","oldest","quality","shortest_path"])"));
  EXPECT_THAT(json, HasSubstr(R"("quality":{"blurry":{"enabled":true,"max_edge_width":)"));
  EXPECT_THAT(json, HasSubstr(R"("corrupt":{"enabled":true,"include_damaged":true})"));
  EXPECT_THAT(json, ::testing::EndsWith(R"("thumbnail_size":160}})"));
  // Balanced braces, no empty members.
  int depth = 0;
  for (const char ch : json) {
    depth += ch == '{';
    depth -= ch == '}';
    EXPECT_GE(depth, 0);
  }
  EXPECT_EQ(depth, 0);
  EXPECT_EQ(json.find(",,"), std::string::npos);
  EXPECT_EQ(json.find("{,"), std::string::npos);
}

TEST(PipelineConfigDocs, DefaultYamlIsTheGeneratedDefaults) {
  const std::filesystem::path file = kSourceDir / "configs" / "default.yaml";
  EXPECT_EQ(read_text(file), pipeline_config_yaml(default_pipeline_config_example()))
      << file << " is out of date; regenerate it with\n"
      << "  cmake --build BUILD --target vpipe_config_doc && BUILD/bin/vpipe_config_doc update "
      << kSourceDir.string();
  const PipelineConfig loaded = load_pipeline_config(file);
  EXPECT_EQ(
      pipeline_config_values(loaded),
      pipeline_config_values(with_manifest(
          PipelineConfig{}, (std::filesystem::absolute(file).parent_path() / "run.db").string())));
}

TEST(PipelineConfigDocs, ConfigMdReferenceIsUpToDate) {
  const std::filesystem::path file = kSourceDir / "docs" / "CONFIG.md";
  const std::string text = read_text(file);
  const std::string begin = "<!-- BEGIN GENERATED REFERENCE -->\n";
  const std::string end = "<!-- END GENERATED REFERENCE -->";
  const size_t b = text.find(begin);
  ASSERT_NE(b, std::string::npos) << file << " lacks " << begin;
  const size_t e = text.find(end, b);
  ASSERT_NE(e, std::string::npos) << file << " lacks " << end;
  EXPECT_EQ(text.substr(b + begin.size(), e - b - begin.size()),
            pipeline_config_reference_markdown())
      << "the reference in " << file << " is out of date; regenerate it with\n"
      << "  cmake --build BUILD --target vpipe_config_doc && BUILD/bin/vpipe_config_doc update "
      << kSourceDir.string();
}

TEST(ConfigOverrides, SetKeysAsTheYamlWouldAndLeaveTheRest) {
  PipelineConfig config;
  const PipelineConfig defaults;
  const std::vector<std::string> sets = {
      "dedup.phash_threshold=8", "quality.blurry.max_edge_width=6.5",
      "inputs=[a, /b]",          "report.out=rep",
      "dedup.match=either",      "dedup.phash_threshold=9"};
  apply_config_overrides(config, sets);
  EXPECT_EQ(config.dedup.phash_threshold, 9) << "in order: the last one wins";
  EXPECT_EQ(config.quality.blurry.threshold, 6.5);
  EXPECT_EQ(config.dedup.match, NearMatch::kEither);
  const std::filesystem::path cwd = std::filesystem::current_path();
  EXPECT_EQ(config.inputs, (std::vector<std::string>{(cwd / "a").string(), "/b"}));
  EXPECT_EQ(config.report.out, (cwd / "rep").string()) << "relative to the current directory";
  // Untouched keys keep their values.
  EXPECT_EQ(config.dedup.dhash_threshold, defaults.dedup.dhash_threshold);
  EXPECT_EQ(config.scan.threads, defaults.scan.threads);
  EXPECT_EQ(config.report.page_size, defaults.report.page_size);
}

TEST(ConfigOverrides, BadOnesNameTheOverrideAndWhatIsWrong) {
  const auto error_of = [](const std::string& set) {
    PipelineConfig config;
    try {
      apply_config_overrides(config, std::vector<std::string>{set});
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_THAT(error_of("dedup.phash_treshold=8"),
              AllOf(HasSubstr("--set dedup.phash_treshold=8"), HasSubstr("unknown key"),
                    HasSubstr("phash_threshold")));
  EXPECT_THAT(error_of("dedup.phash_threshold=99"),
              AllOf(HasSubstr("--set dedup.phash_threshold=99"), HasSubstr("0..")));
  EXPECT_THAT(error_of("dedup.match=sometimes"), HasSubstr("one of"));
  EXPECT_THAT(error_of("dedup.phash_threshold"), HasSubstr("expected key=value"));
  EXPECT_THAT(error_of("=8"), HasSubstr("expected key=value"));
  EXPECT_THAT(error_of("dedup..phash_threshold=8"), HasSubstr("empty key part"));
  EXPECT_THAT(error_of("dedup=8"), HasSubstr("--set dedup=8"));
  // A failed override leaves nothing half applied.
  PipelineConfig config;
  EXPECT_THROW(apply_config_overrides(
                   config, std::vector<std::string>{"dedup.phash_threshold=3", "dedup.nope=1"}),
               ConfigError);
  EXPECT_EQ(config.dedup.phash_threshold, PipelineConfig().dedup.phash_threshold);
}

}  // namespace
}  // namespace vpipe
