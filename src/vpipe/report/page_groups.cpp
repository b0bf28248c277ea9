// groups.html: the duplicate groups, each with its keeper and why it won.

#include "vpipe/dedup/dedup_store.h"
#include "vpipe/report/report_writer.h"

namespace vpipe::report_detail {

void ReportWriter::render_group(std::string& out, const GroupCard& g,
                                std::span<const Thumbnail> thumbs) const {
  fmt::format_to(
      std::back_inserter(out),
      "<section class=\"group-card\" id=\"g{0}\"><div class=\"group-head\">"
      "<a class=\"group-id\" href=\"#g{0}\">Group {0}</a><span class=\"chip {1}\">{1}</span>"
      "<span class=\"muted\">{2} &middot; max pHash distance {3} &middot; "
      "{4} reclaimable</span></div><div class=\"gallery\">",
      g.id, g.kind(), count_text(g.size, "file", "files"), g.max_phash,
      format_bytes(g.reclaimable));
  for (size_t i = 0; i < g.shown.size(); ++i) {
    const FileRecord& f = g.shown[i].file;
    const DecisionRecord& d = g.shown[i].decision;
    std::string badges;
    if (d.is_keeper) badges += "<span class=\"badge keeper\">&#9733; keeper</span>";
    if (d.decision == "reject") badges += "<span class=\"badge rejected\">rejected</span>";
    fmt::format_to(std::back_inserter(out), "<figure class=\"tile{}\">",
                   d.is_keeper ? " is-keeper" : "");
    append_thumb(out, thumbs[i], badges);
    out += "<figcaption>";
    append_name(out, f.path);
    fmt::format_to(
        std::back_inserter(out),
        "<div class=\"facts\"><span>{}</span><span>{}</span><span>quality {:.2f}</span></div>",
        size_text(f), format_bytes(f.size_bytes), d.quality_score);
    if (d.is_keeper && !g.keeper_reason.empty()) {
      out += "<div class=\"why\" title=\"why this file is the keeper (docs/DEDUP.md)\">kept: ";
      append_html_escaped(out, g.keeper_reason);
      out += "</div>";
    }
    out += "<div class=\"dists\">";
    if (d.is_keeper) {
      out += "<span class=\"dist ref\">reference</span>";
    } else if (d.match == "exact") {
      out += "<span class=\"dist\">identical bytes</span>";
    } else {
      fmt::format_to(std::back_inserter(out),
                     "<span class=\"dist\" title=\"Hamming distance of the "
                     "perceptual hashes to the keeper's\">pHash {} &middot; dHash {}</span>",
                     d.phash_distance < 0 ? std::string("?") : std::to_string(d.phash_distance),
                     d.dhash_distance < 0 ? std::string("?") : std::to_string(d.dhash_distance));
      if (!d.match.empty() && d.match != "near") {
        out += "<span class=\"dist\">";
        append_html_escaped(out, d.match);
        out += "</span>";
      }
    }
    if (!d.orientation.empty()) {
      out +=
          "<span class=\"dist orient\" title=\"how this file is turned relative to the keeper\">";
      append_html_escaped(out, d.orientation);
      out += "</span>";
    }
    out += "</div></figcaption></figure>";
  }
  if (g.size > static_cast<int64_t>(g.shown.size())) {
    fmt::format_to(std::back_inserter(out), "<div class=\"more\">+ {} more</div>",
                   grouped(g.size - static_cast<int64_t>(g.shown.size())));
  }
  out += "</div></section>\n";
}

void ReportWriter::write_groups_pages() {
  const int64_t pages = pages_for(groups_, page_size_);
  const auto max_shown = static_cast<size_t>(std::max(1, options_.max_group_members));
  int64_t page = 1;
  std::vector<GroupCard> cards;
  std::optional<GroupCard> current;

  const auto write = [&] {
    // Thumbnails for every member shown on this page, made in parallel in one batch.
    std::vector<const FileRecord*> files;
    for (const GroupCard& g : cards) {
      for (const CuratedFile& m : g.shown) files.push_back(&m.file);
    }
    const std::vector<Thumbnail> thumbs = thumbs_.get(files);
    const int64_t first = (page - 1) * page_size_ + 1;
    const int64_t last = std::min(groups_, page * page_size_);
    std::string body = fmt::format(
        "<h1>Duplicate groups</h1><div class=\"sub\">{} groups, largest first; on this page "
        "groups "
        "{}&ndash;{}. The keeper of each group is kept; every other member is shown with its "
        "distance to the keeper.</div>",
        grouped(groups_), groups_ == 0 ? 0 : first, last);
    const std::string nav =
        pager(page, pages, groups_page, fmt::format("page {} of {}", page, pages));
    body += nav;
    if (cards.empty()) {
      body += groups_ == 0 ? "<div class=\"empty\">No duplicate groups: every file is unique (or "
                             "<code>vpipe dedup</code> has not run yet).</div>"
                           : "<div class=\"empty\">No groups on this page.</div>";
    }
    size_t t = 0;
    for (const GroupCard& g : cards) {
      render_group(body, g, std::span(thumbs).subspan(t, g.shown.size()));
      if (group_totals_.largest.size() < kIndexGroupPreviews && !g.shown.empty()) {
        group_totals_.largest.push_back(
            GroupPreview{g.id, g.size, g.kind(), g.shown[0].file.path, thumbs[t]});
      }
      t += g.shown.size();
    }
    body += nav;
    write_page(groups_page(page), "groups", fmt::format("Duplicate groups, page {}", page), body);
    cards.clear();
    ++page;
  };
  const auto finish_group = [&] {
    if (!current) return;
    GroupCard& g = *current;
    if (g.near == 0)
      ++group_totals_.exact;
    else if (g.exact == 0)
      ++group_totals_.near;
    else
      ++group_totals_.mixed;
    group_totals_.members += g.size;
    group_totals_.reclaimable_bytes += g.reclaimable;
    if (!g.members.empty()) {
      // Recomputed from the manifest's rows: the JPEG quality is read from the files' headers
      // only when two JPEG members are still tied when least_degraded is reached.
      g.keeper_reason =
          explain_keeper(g.members, g.keeper, keeper_order_, [&](size_t k) {
            return g.members[k].jpeg ? read_jpeg_quality(g.member_paths[k]).value_or(0) : 0;
          }).text;
    }
    g.members = {};
    g.member_paths = {};
    const int64_t g_page = (g.id - 1) / page_size_ + 1;
    while (page < g_page && page <= pages) write();
    cards.push_back(std::move(g));
    current.reset();
  };

  CuratedQuery query;
  query.order = CuratedQuery::Order::kGroup;
  DedupStore(manifest_).for_each_curated(query, [&](const CuratedFile& row) {
    const DecisionRecord& d = row.decision;
    if (!current || current->id != d.group_id) {
      finish_group();
      current.emplace();
      current->id = d.group_id;
    }
    GroupCard& g = *current;
    ++g.size;
    if (!d.is_keeper) {
      g.reclaimable += row.file.size_bytes;
      if (d.match == "exact")
        ++g.exact;
      else
        ++g.near;
      g.max_phash = std::max(g.max_phash, d.phash_distance);
    }
    if (g.shown.size() < max_shown) g.shown.push_back(row);
    if (d.is_keeper) g.keeper = g.members.size();
    GroupingItem& item = g.members.emplace_back();
    item.path = g.member_paths.emplace_back(row.file.path);
    set_keeper_inputs(item, row.file);
    item.quality = d.quality_score;
    item.rejected = d.decision == "reject";
    return true;
  });
  finish_group();
  while (page <= pages) write();
}

}  // namespace vpipe::report_detail
