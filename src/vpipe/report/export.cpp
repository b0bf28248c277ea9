#include "vpipe/report/export.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>

#include "vpipe/core/error.h"
#include "vpipe/core/json.h"
#include "vpipe/dedup/dedup_store.h"
#include "vpipe/io/file_store.h"
#include "vpipe/io/manifest.h"
#include "vpipe/report/export_sink.h"

namespace vpipe {
namespace {

std::string hex64(uint64_t v) { return fmt::format("{:016x}", v); }

/// A number for CSV/JSON: shortest round-trip form.
std::string number(double v) { return fmt::format("{}", v); }

constexpr const char* kCsvHeader =
    "path,status,decision,reasons,reason_details,group_id,is_keeper,match,phash_distance,"
    "dhash_distance,orientation,quality_score,format,width,height,size_bytes,content_hash,phash,"
    "dhash,sharpness,brightness,contrast,dark_fraction,bright_fraction,entropy,colorfulness,"
    "error\n";

std::string csv_row(const DedupStore::CuratedFile& row) {
  const FileRecord& f = row.file;
  const DecisionRecord& d = row.decision;
  std::string rules;
  std::string details;
  for (const ReasonRecord& r : d.reasons) {
    if (!rules.empty()) {
      rules += ';';
      details += "; ";
    }
    rules += r.rule;
    details += fmt::format("{} {} (threshold {})", r.rule, number(r.value), number(r.threshold));
  }
  const auto opt_int = [](bool present, int64_t v) {
    return present ? std::to_string(v) : std::string();
  };
  std::string line;
  line += csv_field(f.path) + ',' + std::string(to_string(f.status)) + ',' + csv_field(d.decision) +
          ',' + csv_field(rules) + ',' + csv_field(details) + ',';
  line += opt_int(d.group_id > 0, d.group_id) + ',' +
          (row.has_decision ? (d.is_keeper ? "1" : "0") : "") + ',' + d.match + ',' +
          opt_int(d.group_id > 0 && d.phash_distance >= 0, d.phash_distance) + ',' +
          opt_int(d.group_id > 0 && d.dhash_distance >= 0, d.dhash_distance) + ',' + d.orientation +
          ',' + (row.has_decision ? number(d.quality_score) : "") + ',';
  line += f.format + ',' + opt_int(f.width > 0, f.width) + ',' + opt_int(f.height > 0, f.height) +
          ',' + std::to_string(f.size_bytes) + ',' +
          (f.has_content_hash ? f.content_hash.hex() : "") + ',';
  if (f.has_signals) {
    const QualitySignals& q = f.quality;
    line += hex64(f.phash) + ',' + hex64(f.dhash) + ',' + number(q.sharpness) + ',' +
            number(q.brightness) + ',' + number(q.contrast) + ',' + number(q.dark_fraction) + ',' +
            number(q.bright_fraction) + ',' + number(q.entropy) + ',' + number(q.colorfulness) +
            ',';
  } else {
    line += ",,,,,,,,,";
  }
  line += csv_field(f.error) + '\n';
  return line;
}

std::string jsonl_row(const DedupStore::CuratedFile& row) {
  const FileRecord& f = row.file;
  const DecisionRecord& d = row.decision;
  std::string json = "{\"path\":" + json_quote(f.path) + ",\"status\":\"" +
                     std::string(to_string(f.status)) + "\"";
  if (row.has_decision) {
    json += ",\"decision\":" + json_quote(d.decision);
    json += ",\"reasons\":[";
    for (size_t i = 0; i < d.reasons.size(); ++i) {
      const ReasonRecord& r = d.reasons[i];
      json += fmt::format("{}{{\"rule\":{},\"value\":{},\"threshold\":{},\"severity\":{}}}",
                          i > 0 ? "," : "", json_quote(r.rule), number(r.value),
                          number(r.threshold), number(r.severity));
    }
    json += "]";
    if (d.group_id > 0) {
      json += fmt::format(",\"group_id\":{},\"is_keeper\":{}", d.group_id, d.is_keeper);
      if (!d.is_keeper) {
        json += fmt::format(",\"match\":{},\"phash_distance\":{},\"dhash_distance\":{}",
                            json_quote(d.match), d.phash_distance, d.dhash_distance);
        if (!d.orientation.empty()) json += ",\"orientation\":" + json_quote(d.orientation);
      }
    }
    json += ",\"quality_score\":" + number(d.quality_score);
  }
  if (!f.format.empty()) json += ",\"format\":" + json_quote(f.format);
  if (f.width > 0) json += fmt::format(",\"width\":{},\"height\":{}", f.width, f.height);
  json += fmt::format(",\"size_bytes\":{}", f.size_bytes);
  if (f.has_content_hash) json += ",\"content_hash\":\"" + f.content_hash.hex() + "\"";
  if (f.has_signals) {
    const QualitySignals& q = f.quality;
    json += fmt::format(
        ",\"phash\":\"{}\",\"dhash\":\"{}\",\"signals\":{{\"sharpness\":{},\"brightness\":{},"
        "\"contrast\":{},\"dark_fraction\":{},\"bright_fraction\":{},\"entropy\":{},"
        "\"colorfulness\":{}}}",
        hex64(f.phash), hex64(f.dhash), number(q.sharpness), number(q.brightness),
        number(q.contrast), number(q.dark_fraction), number(q.bright_fraction), number(q.entropy),
        number(q.colorfulness));
  }
  if (!f.error.empty()) json += ",\"error\":" + json_quote(f.error);
  json += "}\n";
  return json;
}

}  // namespace

std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

bool parse_export_format(std::string_view name, ExportFormat& format) {
  if (name == "csv") {
    format = ExportFormat::kCsv;
  } else if (name == "jsonl") {
    format = ExportFormat::kJsonl;
  } else if (name == "keepers") {
    format = ExportFormat::kKeepers;
  } else if (name == "coco") {
    format = ExportFormat::kCoco;
  } else if (name == "yolo") {
    format = ExportFormat::kYolo;
  } else if (name == "detections") {
    format = ExportFormat::kDetections;
  } else {
    return false;
  }
  return true;
}

int64_t export_manifest(const Manifest& manifest, const ExportOptions& options) {
  if (is_dataset_format(options.format)) return export_dataset(manifest, options).images;
  if (DedupStore(manifest).decision_counts().empty() && FileStore(manifest).count_files() > 0) {
    throw ConfigError("export: the manifest has no decisions yet; run `vpipe dedup` first");
  }
  ExportSink sink(options.out, options.force, [&](std::string_view head) {
    switch (options.format) {
      case ExportFormat::kCsv:
        return head.starts_with(kCsvHeader);
      case ExportFormat::kJsonl:
        return head.empty() || head.starts_with("{\"path\":");
      case ExportFormat::kKeepers: {
        // A list of paths: earlier when its first entry is a file of this manifest.
        const size_t end = head.find(options.null_terminated ? '\0' : '\n');
        return head.empty() || (end != std::string_view::npos &&
                                FileStore(manifest).find_file(head.substr(0, end)));
      }
      default:
        return false;
    }
  });
  int64_t written = 0;
  DedupStore::CuratedQuery query;
  if (options.format == ExportFormat::kKeepers) query.decision = "keep";
  if (options.format == ExportFormat::kCsv) sink.write(kCsvHeader);
  DedupStore(manifest).for_each_curated(query, [&](const DedupStore::CuratedFile& row) {
    switch (options.format) {
      case ExportFormat::kCsv:
        sink.write(csv_row(row));
        break;
      case ExportFormat::kJsonl:
        sink.write(jsonl_row(row));
        break;
      case ExportFormat::kKeepers:
        sink.write(row.file.path);
        sink.write(options.null_terminated ? std::string_view("\0", 1) : std::string_view("\n"));
        break;
      case ExportFormat::kCoco:
      case ExportFormat::kYolo:
      case ExportFormat::kDetections:
        break;  // handled by export_dataset above
    }
    ++written;
    return true;
  });
  sink.commit();
  return written;
}

}  // namespace vpipe
