// rejects.html and one gallery per rule: the rejected files, worst first.

#include "vpipe/dedup/dedup_store.h"
#include "vpipe/report/report_writer.h"

namespace vpipe::report_detail {

std::string ReportWriter::rule_tabs(const std::string& active) const {
  std::string out = "<nav class=\"tabs\">";
  fmt::format_to(std::back_inserter(out), "<a href=\"rejects.html\"{}>All reasons</a>",
                 active.empty() ? " class=\"active\"" : "");
  for (const auto& [rule, n] : rules_by_count_) {
    fmt::format_to(std::back_inserter(out), "<a href=\"{}\"{}>", rejects_page(rule, 1),
                   rule == active ? " class=\"active\"" : "");
    append_html_escaped(out, rule);
    fmt::format_to(std::back_inserter(out), "<span class=\"n\">{}</span></a>", grouped(n));
  }
  out += "</nav>";
  return out;
}

const ThresholdRecord* ReportWriter::threshold_of(const std::string& rule) const {
  for (const ThresholdRecord& t : thresholds_) {
    if (t.rule == rule) return &t;
  }
  return nullptr;
}

void ReportWriter::render_reject_tile(std::string& out, const CuratedFile& row,
                                      const Thumbnail& thumb, const std::string& rule) const {
  const FileRecord& f = row.file;
  out += "<figure class=\"tile\">";
  append_thumb(out, thumb, {});
  out += "<figcaption>";
  append_name(out, f.path);
  fmt::format_to(std::back_inserter(out),
                 "<div class=\"facts\"><span>{}</span><span>{}</span></div>", size_text(f),
                 format_bytes(f.size_bytes));
  out += "<div class=\"reasons\">";
  // This page's rule first, then the others (worst first, as the manifest orders them).
  for (const ReasonRecord& r : row.decision.reasons) {
    if (r.rule == rule) append_reason(out, r, true, f);
  }
  for (const ReasonRecord& r : row.decision.reasons) {
    if (r.rule != rule) append_reason(out, r, false, f);
  }
  out += "</div></figcaption></figure>";
}

void ReportWriter::write_rule_pages(const std::string& rule, int64_t count) {
  const int64_t pages = pages_for(count, page_size_);
  const auto name = [&](int64_t p) { return rejects_page(rule, p); };
  const ThresholdRecord* threshold = threshold_of(rule);
  int64_t page = 1;
  std::vector<CuratedFile> rows;
  const auto write = [&] {
    std::vector<const FileRecord*> files;
    files.reserve(rows.size());
    for (const CuratedFile& r : rows) files.push_back(&r.file);
    const std::vector<Thumbnail> thumbs = thumbs_.get(files);
    std::string body = "<h1>Rejected: ";
    append_html_escaped(body, rule);
    fmt::format_to(std::back_inserter(body), "</h1><div class=\"sub\">{}: {}",
                   count_text(count, "file", "files"), rule_text(rule));
    if (threshold != nullptr) {
      fmt::format_to(std::back_inserter(body), " (<code>{}</code> {} {})", esc(threshold->signal),
                     threshold->rejects_below ? "&lt;" : "&gt;", value_text(threshold->threshold));
    }
    fmt::format_to(std::back_inserter(body), ". Worst first; on this page {}&ndash;{}.</div>",
                   count == 0 ? 0 : (page - 1) * page_size_ + 1,
                   std::min(count, page * page_size_));
    body += rule_tabs(rule);
    const std::string nav = pager(page, pages, name, fmt::format("page {} of {}", page, pages));
    body += nav;
    if (rows.empty()) body += "<div class=\"empty\">No files on this page.</div>";
    body += "<div class=\"gallery\">";
    for (size_t i = 0; i < rows.size(); ++i) render_reject_tile(body, rows[i], thumbs[i], rule);
    body += "</div>";
    body += nav;
    std::string heading = "Rejected: " + rule;
    write_page(name(page), "rejects", fmt::format("{}, page {}", heading, page), body);
    rows.clear();
    ++page;
  };
  CuratedQuery query;
  query.order = CuratedQuery::Order::kSeverity;
  query.rule = rule;
  DedupStore(manifest_).for_each_curated(query, [&](const CuratedFile& row) {
    if (static_cast<int64_t>(rows.size()) == page_size_) write();
    rows.push_back(row);
    return true;
  });
  while (page <= pages) write();
}

std::pair<std::vector<CuratedFile>, std::vector<Thumbnail>> ReportWriter::overview_examples(
    CuratedQuery query) {
  query.limit = kOverviewExamples;
  std::vector<CuratedFile> rows;
  DedupStore(manifest_).for_each_curated(query, [&](const CuratedFile& row) {
    rows.push_back(row);
    return true;
  });
  std::vector<const FileRecord*> files;
  files.reserve(rows.size());
  for (const CuratedFile& r : rows) files.push_back(&r.file);
  std::vector<Thumbnail> thumbs = thumbs_.get(files);
  return {std::move(rows), std::move(thumbs)};
}

void ReportWriter::write_rejects_overview() {
  std::string body = fmt::format(
      "<h1>Rejected images</h1><div class=\"sub\">{} files rejected by the quality rules "
      "({} of all files). A file can be rejected for several reasons; each rule lists its files "
      "worst first.</div>",
      grouped(rejected_), percent(rejected_, files_));
  body += rule_tabs({});
  if (rules_by_count_.empty()) {
    body += "<div class=\"empty\">Nothing was rejected";
    body += decisions_.empty() ? " (<code>vpipe dedup</code> has not run yet)." : ".";
    body += "</div>";
  }
  for (const auto& [rule, count] : rules_by_count_) {
    CuratedQuery query;
    query.order = CuratedQuery::Order::kSeverity;
    query.rule = rule;
    const auto [rows, thumbs] = overview_examples(query);
    body += "<section class=\"panel\" style=\"margin-bottom:16px\"><div class=\"panel-head\"><h3>";
    append_html_escaped(body, rule);
    fmt::format_to(std::back_inserter(body),
                   " <span class=\"chip reject\">{}</span></h3><a href=\"{}\">see all "
                   "&rsaquo;</a></div><div class=\"muted\" style=\"margin:-4px 0 12px\">{}</div>"
                   "<div class=\"gallery\">",
                   count_text(count, "file", "files"), rejects_page(rule, 1), rule_text(rule));
    for (size_t i = 0; i < rows.size(); ++i) render_reject_tile(body, rows[i], thumbs[i], rule);
    body += "</div></section>";
  }
  append_informational_grayscale(body);
  write_page("rejects.html", "rejects", "Rejected images", body);
}

void ReportWriter::append_informational_grayscale(std::string& body) {
  const ThresholdRecord* rule = threshold_of("grayscale");
  if (rule == nullptr || rule->enabled) return;
  const int64_t count = DedupStore(manifest_).count_colourless(rule->threshold);
  if (count == 0) return;
  CuratedQuery query;
  query.order = CuratedQuery::Order::kColourless;
  query.colorfulness_below = rule->threshold;
  const auto [rows, thumbs] = overview_examples(query);
  fmt::format_to(std::back_inserter(body),
                 "<section class=\"panel informational\" style=\"margin-bottom:16px\">"
                 "<div class=\"panel-head\"><h3>grayscale <span class=\"chip\">{}, "
                 "informational</span></h3></div><div class=\"muted\" style=\"margin:-4px 0 "
                 "12px\">Kept files without colour (colourfulness under {}): not rejected. "
                 "<code>quality.grayscale.enabled: true</code> rejects them. The least colourful "
                 "first.</div><div class=\"gallery\">",
                 count_text(count, "file", "files"), value_text(rule->threshold));
  for (size_t i = 0; i < rows.size(); ++i) {
    const FileRecord& f = rows[i].file;
    body += "<figure class=\"tile\">";
    append_thumb(body, thumbs[i], {});
    body += "<figcaption>";
    append_name(body, f.path);
    fmt::format_to(std::back_inserter(body),
                   "<div class=\"facts\"><span>{}</span><span>{}</span></div><div "
                   "class=\"reasons\"><span class=\"reason\">colourfulness <b>{}</b> &lt; "
                   "{}</span></div></figcaption></figure>",
                   size_text(f), format_bytes(f.size_bytes), value_text(f.quality.colorfulness),
                   value_text(rule->threshold));
  }
  body += "</div></section>";
}

}  // namespace vpipe::report_detail
