// files.html: every file, paged, with its status and decision.

#include "vpipe/dedup/dedup_store.h"
#include "vpipe/report/report_writer.h"

namespace vpipe::report_detail {

void ReportWriter::write_files_pages() {
  const int64_t pages = pages_for(files_, page_size_);
  int64_t page = 1;
  int64_t index = 0;
  std::string rows;
  const auto flush = [&] {
    std::string body = fmt::format(
        "<h1>All files</h1><div class=\"sub\">{} files{} by path; on this page {}&ndash;{}</div>",
        grouped(files_), root_note(), files_ == 0 ? 0 : (page - 1) * page_size_ + 1,
        std::min(files_, page * page_size_));
    const std::string nav =
        pager(page, pages, files_page, fmt::format("page {} of {}", page, pages));
    body += nav;
    if (rows.empty()) {
      body +=
          "<div class=\"empty\">The manifest has no files yet: run <code>vpipe "
          "scan</code>.</div>";
    } else {
      body +=
          "<div class=\"panel\" style=\"padding:4px 6px\"><table class=\"files\"><thead><tr>"
          "<th class=\"num\">#</th><th>file</th><th>status</th><th>decision</th>"
          "<th class=\"num\">pixels</th><th>format</th><th class=\"num\">size</th>"
          "<th class=\"num\">sharpness</th><th class=\"num\">brightness</th>"
          "<th class=\"num\">contrast</th><th class=\"num\">entropy</th></tr></thead><tbody>";
      body += rows;
      body += "</tbody></table></div>";
    }
    body += nav;
    write_page(files_page(page), "files", fmt::format("All files, page {}", page), body);
    rows.clear();
    ++page;
  };

  CuratedQuery query;
  query.order = CuratedQuery::Order::kPath;
  DedupStore(manifest_).for_each_curated(query, [&](const CuratedFile& row) {
    const FileRecord& f = row.file;
    histograms_.add(f);
    if (index > 0 && index % page_size_ == 0) flush();
    ++index;
    fmt::format_to(std::back_inserter(rows),
                   "<tr><td class=\"num muted\">{}</td><td class=\"path\">", grouped(index));
    append_name(rows, f.path);
    if (!f.error.empty()) {
      rows += "<div class=\"error\">";
      append_html_escaped(rows, f.error);
      rows += "</div>";
    }
    const std::string_view status = to_string(f.status);
    fmt::format_to(std::back_inserter(rows), "</td><td><span class=\"chip {}\">{}</span></td><td>",
                   f.status == ItemStatus::kOk        ? "ok"
                   : f.status == ItemStatus::kDamaged ? "damaged"
                                                      : "bad",
                   status);
    if (row.has_decision) {
      const DecisionRecord& d = row.decision;
      fmt::format_to(std::back_inserter(rows), "<span class=\"chip {}\">{}</span>", esc(d.decision),
                     esc(d.decision));
      if (d.group_id > 0) {
        fmt::format_to(std::back_inserter(rows), " <a href=\"{}\">group {}</a>{}",
                       group_link(d.group_id), d.group_id,
                       d.is_keeper ? " <span class=\"muted\">(keeper)</span>" : "");
      }
      for (const ReasonRecord& r : d.reasons) {
        fmt::format_to(std::back_inserter(rows), " <a class=\"muted\" href=\"{}\">",
                       rejects_page(r.rule, 1));
        append_html_escaped(rows, r.rule);
        rows += "</a>";
      }
    } else {
      rows += "<span class=\"muted\">&mdash;</span>";
    }
    const auto sig = [&](double v) {
      return f.has_signals ? value_text(v) : std::string("&mdash;");
    };
    fmt::format_to(std::back_inserter(rows),
                   "</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td>"
                   "<td class=\"num sig\">{}</td><td class=\"num sig\">{}</td>"
                   "<td class=\"num sig\">{}</td><td class=\"num sig\">{}</td></tr>",
                   size_text(f), f.format.empty() ? "&mdash;" : esc(f.format),
                   format_bytes(f.size_bytes), sig(f.quality.sharpness), sig(f.quality.brightness),
                   sig(f.quality.contrast), sig(f.quality.entropy));
    return true;
  });
  // The last page, and empty ones if the manifest changed under us, so every link works.
  while (page <= pages) flush();
}

}  // namespace vpipe::report_detail
