// index.html: the cards, breakdowns, crawl, predictions, histograms, stage timings and runs.

#include "vpipe/report/report_writer.h"

namespace vpipe::report_detail {

void ReportWriter::index_cards(std::string& body) const {
  int64_t unusable = 0;
  for (const auto& [status, n] : statuses_) {
    if (status != "ok" && status != "damaged") unusable += n;
  }
  const int64_t keep = decision("keep");
  const int64_t dup = decision("duplicate");
  body += "<div class=\"cards\">";
  fmt::format_to(std::back_inserter(body),
                 "<a class=\"card files\" href=\"{}\"><div class=\"label\">Files</div>"
                 "<div class=\"value\">{}</div><div class=\"detail\">in the manifest</div></a>",
                 files_page(1), grouped(files_));
  fmt::format_to(
      std::back_inserter(body),
      "<div class=\"card keep\"><div class=\"label\">Kept</div><div class=\"value\">{}</div>"
      "<div class=\"detail\">{} of all files</div></div>",
      grouped(keep), percent(keep, files_));
  fmt::format_to(std::back_inserter(body),
                 "<a class=\"card duplicate\" href=\"{}\"><div class=\"label\">Duplicates</div>"
                 "<div class=\"value\">{}</div><div class=\"detail\">in {} groups &middot; {} "
                 "reclaimable</div></a>",
                 groups_page(1), grouped(dup), grouped(groups_),
                 format_bytes(group_totals_.reclaimable_bytes));
  fmt::format_to(
      std::back_inserter(body),
      "<a class=\"card reject\" href=\"rejects.html\"><div class=\"label\">Rejected</div>"
      "<div class=\"value\">{}</div><div class=\"detail\">{} of all files &middot; {} "
      "reasons</div></a>",
      grouped(rejected_), percent(rejected_, files_), rules_by_count_.size());
  fmt::format_to(std::back_inserter(body),
                 "<div class=\"card broken\"><div class=\"label\">Unreadable</div>"
                 "<div class=\"value\">{}</div><div class=\"detail\">no usable pixels (corrupt, "
                 "not an image, ...)</div></div>",
                 grouped(unusable));
  for (const ModelTotals& t : model_totals_) {
    fmt::format_to(std::back_inserter(body),
                   "<a class=\"card model\" href=\"{}\"><div class=\"label\">Model ",
                   detections_page(t.model, {}, 1));
    append_html_escaped(body, t.model);
    if (t.classifier) {
      fmt::format_to(std::back_inserter(body),
                     "</div><div class=\"value\">{}</div><div class=\"detail\">images "
                     "classified &middot; {} classes seen &middot; {} failed</div></a>",
                     grouped(t.ok), grouped(static_cast<int64_t>(t.labels.size())),
                     grouped(t.failed));
    } else {
      fmt::format_to(std::back_inserter(body),
                     "</div><div class=\"value\">{}</div><div class=\"detail\">detections in "
                     "{} images &middot; {} failed</div></a>",
                     grouped(t.detections), grouped(t.ok), grouped(t.failed));
    }
  }
  if (crops_ > 0) {
    fmt::format_to(std::back_inserter(body),
                   "<a class=\"card crops\" href=\"{}\"><div class=\"label\">Crops</div>"
                   "<div class=\"value\">{}</div><div class=\"detail\">cut from the "
                   "predictions' boxes</div></a>",
                   crops_page(1), grouped(crops_));
  }
  body += "</div>";
}

void ReportWriter::index_breakdown(std::string& body) const {
  body += "<div class=\"grid2\" style=\"margin-top:16px\">";
  index_decisions(body);
  index_reasons(body);
  body += "</div>";
  index_largest_groups(body);
}

void ReportWriter::index_decisions(std::string& body) const {
  const int64_t keep = decision("keep");
  const int64_t dup = decision("duplicate");
  const int64_t undecided = std::max<int64_t>(0, files_ - keep - dup - rejected_);
  body += "<section class=\"panel\"><h3>Decisions</h3>";
  if (decisions_.empty()) {
    body +=
        "<div class=\"note\">No dedup pass yet: run <code>vpipe dedup</code> to group "
        "duplicates and apply the quality rules.</div>";
  }
  fmt::format_to(
      std::back_inserter(body),
      "<div class=\"stack\"><span class=\"c-keep\" style=\"width:{:.3f}%\"></span>"
      "<span class=\"c-duplicate\" style=\"width:{:.3f}%\"></span><span class=\"c-reject\" "
      "style=\"width:{:.3f}%\"></span><span class=\"c-none\" "
      "style=\"width:{:.3f}%\"></span></div>",
      share(keep, files_), share(dup, files_), share(rejected_, files_), share(undecided, files_));
  fmt::format_to(std::back_inserter(body),
                 "<div class=\"legend\"><span><i class=\"c-keep\"></i>keep {} ({})</span>"
                 "<span><i class=\"c-duplicate\"></i>duplicate {} ({})</span>"
                 "<span><i class=\"c-reject\"></i>reject {} ({})</span>",
                 grouped(keep), percent(keep, files_), grouped(dup), percent(dup, files_),
                 grouped(rejected_), percent(rejected_, files_));
  if (undecided > 0) {
    fmt::format_to(std::back_inserter(body), "<span><i class=\"c-none\"></i>undecided {}</span>",
                   grouped(undecided));
  }
  body += "</div>";
  // Status.
  body += "<h3 style=\"margin-top:18px\">File status</h3><div class=\"stack\">";
  for (const auto& [status, n] : statuses_) {
    const char* cls = status == "ok" ? "c-ok" : status == "damaged" ? "c-damaged" : "c-bad";
    fmt::format_to(std::back_inserter(body),
                   "<span class=\"{}\" style=\"width:{:.3f}%\" title=\"{}\"></span>", cls,
                   share(n, files_), esc(status));
  }
  body += "</div><div class=\"legend\">";
  for (const auto& [status, n] : statuses_) {
    const char* cls = status == "ok" ? "c-ok" : status == "damaged" ? "c-damaged" : "c-bad";
    fmt::format_to(std::back_inserter(body), "<span><i class=\"{}\"></i>{} {} ({})</span>", cls,
                   esc(status), grouped(n), percent(n, files_));
  }
  body += "</div>";
  // Groups.
  fmt::format_to(
      std::back_inserter(body),
      "<h3 style=\"margin-top:18px\">Duplicate groups</h3><table><tbody>"
      "<tr><td>exact copies (same bytes)</td><td class=\"num\">{}</td></tr>"
      "<tr><td>near duplicates (perceptual hashes)</td><td class=\"num\">{}</td></tr>"
      "<tr><td>mixed (exact and near members)</td><td class=\"num\">{}</td></tr>"
      "<tr><td>files in groups</td><td class=\"num\">{}</td></tr>"
      "<tr><td>bytes held by non-keepers</td><td class=\"num\">{}</td></tr></tbody></table>",
      grouped(group_totals_.exact), grouped(group_totals_.near), grouped(group_totals_.mixed),
      grouped(group_totals_.members), format_bytes(group_totals_.reclaimable_bytes));
  body += "</section>";
}

void ReportWriter::index_reasons(std::string& body) const {
  body +=
      "<section class=\"panel\"><div class=\"panel-head\"><h3>Rejection reasons</h3>"
      "<a href=\"rejects.html\">browse &rsaquo;</a></div>";
  if (rules_by_count_.empty()) {
    body += "<div class=\"muted\">Nothing rejected.</div>";
  } else {
    const int64_t top = rules_by_count_.front().second;
    body +=
        "<table><thead><tr><th>rule</th><th>threshold</th><th class=\"num\">files</th><th></th>"
        "</tr></thead><tbody>";
    for (const auto& [rule, n] : rules_by_count_) {
      fmt::format_to(std::back_inserter(body), "<tr><td><a href=\"{}\">", rejects_page(rule, 1));
      append_html_escaped(body, rule);
      body += "</a></td><td class=\"muted\">";
      if (const ThresholdRecord* t = threshold_of(rule)) {
        fmt::format_to(std::back_inserter(body), "{} {} {}", esc(t->signal),
                       t->rejects_below ? "&lt;" : "&gt;", value_text(t->threshold));
      } else {
        body += "&mdash;";
      }
      fmt::format_to(std::back_inserter(body),
                     "</td><td class=\"num\">{}</td><td class=\"meter\"><div class=\"bar\">"
                     "<span style=\"width:{:.2f}%\"></span></div></td></tr>",
                     grouped(n), share(n, top));
    }
    body += "</tbody></table>";
    const std::vector<const ThresholdRecord*> disabled = [&] {
      std::vector<const ThresholdRecord*> out;
      for (const ThresholdRecord& t : thresholds_) {
        if (!t.enabled) out.push_back(&t);
      }
      return out;
    }();
    if (!disabled.empty()) {
      body += "<div class=\"muted\" style=\"margin-top:8px;font-size:12.5px\">Disabled rules: ";
      for (size_t i = 0; i < disabled.size(); ++i) {
        if (i > 0) body += ", ";
        append_html_escaped(body, disabled[i]->rule);
      }
      body += "</div>";
    }
  }
  body += "</section>";
}

void ReportWriter::index_largest_groups(std::string& body) const {
  if (!group_totals_.largest.empty()) {
    fmt::format_to(
        std::back_inserter(body),
        "<section class=\"panel\" style=\"margin-top:16px\"><div class=\"panel-head\">"
        "<h3>Largest duplicate groups <span class=\"muted\">(the keeper of each)</span></h3>"
        "<a href=\"{}\">all groups &rsaquo;</a></div><div class=\"strip\">",
        groups_page(1));
    for (const GroupPreview& g : group_totals_.largest) {
      fmt::format_to(std::back_inserter(body), "<a class=\"tile\" href=\"{}\" title=\"{}\">",
                     group_link(g.id), esc(g.keeper_path));
      append_thumb(
          body, g.keeper_thumb,
          fmt::format("<span class=\"badge\">{}</span>", count_text(g.size, "file", "files")));
      fmt::format_to(std::back_inserter(body),
                     "<figcaption><div class=\"fname\">Group {}</div><div class=\"facts\">{}</div>"
                     "</figcaption></a>",
                     g.id, esc(g.kind));
    }
    body += "</div></section>";
  }
}

void ReportWriter::index_crawl(std::string& body) const {
  if (url_states_.empty()) return;
  const auto state = [&](const char* name) {
    const auto it = url_states_.find(name);
    return it == url_states_.end() ? int64_t{0} : it->second;
  };
  int64_t total = 0;
  for (const auto& [name, n] : url_states_) total += n;
  const int64_t failed = state("failed");
  fmt::format_to(std::back_inserter(body),
                 "<h2 id=\"crawl\">Crawl</h2><div class=\"grid2\"><section class=\"panel\">"
                 "<h3>URLs</h3><div class=\"muted\" style=\"margin:-4px 0 10px\">{} URLs "
                 "&middot; {} fetched</div><table><tbody>"
                 "<tr><td>fetched</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>"
                 "<tr><td>failed</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                 grouped(total), format_bytes(crawled_bytes_), grouped(state("done")),
                 percent(state("done"), total), grouped(failed), percent(failed, total));
  std::vector<std::pair<std::string, int64_t>> reasons(url_failures_.begin(), url_failures_.end());
  std::stable_sort(reasons.begin(), reasons.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  for (const auto& [reason, n] : reasons) {
    body += "<tr><td style=\"padding-left:18px\"><code>";
    append_html_escaped(body, reason);
    fmt::format_to(std::back_inserter(body),
                   "</code></td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                   grouped(n), percent(n, total));
  }
  if (state("pending") > 0) {
    fmt::format_to(std::back_inserter(body),
                   "<tr><td>pending (rerun to fetch)</td><td class=\"num\">{}</td><td "
                   "class=\"num\">{}</td></tr>",
                   grouped(state("pending")), percent(state("pending"), total));
  }
  body += "</tbody></table></section>";
  body +=
      "<section class=\"panel\"><h3>Hosts (latest crawl run)</h3><table><thead><tr>"
      "<th>host</th><th class=\"num\">URLs</th><th class=\"num\">fetched</th>"
      "<th class=\"num\">failed</th><th class=\"num\">bytes</th>"
      "<th class=\"num\">throughput</th></tr></thead><tbody>";
  for (size_t i = 0; i < crawl_hosts_.size() && i < kIndexHosts; ++i) {
    const CrawlHostRecord& h = crawl_hosts_[i];
    body += "<tr><td>";
    append_html_escaped(body, h.host);
    fmt::format_to(
        std::back_inserter(body),
        "</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td "
        "class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}/s"
        "</td></tr>",
        grouped(h.urls), grouped(h.done), grouped(h.failed), format_bytes(h.bytes),
        format_bytes(h.seconds > 0 ? static_cast<int64_t>(static_cast<double>(h.bytes) / h.seconds)
                                   : 0));
  }
  body += "</tbody></table>";
  if (crawl_hosts_.size() > kIndexHosts) {
    fmt::format_to(std::back_inserter(body),
                   "<div class=\"muted\" style=\"margin-top:8px\">{} more hosts (table "
                   "<code>crawl_hosts</code> of the manifest).</div>",
                   crawl_hosts_.size() - kIndexHosts);
  }
  body += "</section></div>";
}

void ReportWriter::index_predictions(std::string& body) const {
  if (model_totals_.empty()) return;
  body += "<h2 id=\"predictions\">Predictions</h2><div class=\"grid2\">";
  for (const ModelTotals& t : model_totals_) {
    fmt::format_to(std::back_inserter(body),
                   "<section class=\"panel\"><div class=\"panel-head\"><h3>Model ");
    append_html_escaped(body, t.model);
    fmt::format_to(std::back_inserter(body),
                   " <span class=\"chip\">{}</span></h3><a href=\"{}\">browse &rsaquo;</a>"
                   "</div><div class=\"muted\" style=\"margin:-4px 0 10px\">{} done &middot; {} "
                   "failed &middot; {}</div>",
                   t.classifier ? "classify" : "detect", detections_page(t.model, {}, 1),
                   count_text(t.ok, "image", "images"), grouped(t.failed),
                   t.classifier ? count_text(t.detections, "class", "classes")
                                : count_text(t.detections, "detection", "detections"));
    if (t.labels.empty()) {
      body += "<div class=\"muted\">Nothing found.</div></section>";
      continue;
    }
    const int64_t top = t.labels.front().second;
    body +=
        "<table><thead><tr><th>label</th><th class=\"num\">predictions</th>"
        "<th class=\"num\">images</th><th></th></tr></thead><tbody>";
    for (size_t i = 0; i < t.labels.size() && i < kIndexLabels; ++i) {
      const auto& [label, n] = t.labels[i];
      fmt::format_to(std::back_inserter(body), "<tr><td><i class=\"dot {}\"></i>",
                     label_colour(label));
      if (t.label_pages.contains(label)) {
        fmt::format_to(std::back_inserter(body), "<a href=\"{}\">",
                       detections_page(t.model, label, 1));
        append_html_escaped(body, label);
        body += "</a>";
      } else {
        append_html_escaped(body, label);
      }
      const auto files = t.label_files.find(label);
      fmt::format_to(std::back_inserter(body),
                     "</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td "
                     "class=\"meter\"><div class=\"bar pred-bar\"><span "
                     "style=\"width:{:.2f}%\"></span></div></td></tr>",
                     grouped(n), grouped(files == t.label_files.end() ? 0 : files->second),
                     share(n, top));
    }
    body += "</tbody></table>";
    if (t.labels.size() > kIndexLabels) {
      fmt::format_to(std::back_inserter(body),
                     "<div class=\"muted\" style=\"margin-top:8px\">{} more labels.</div>",
                     t.labels.size() - kIndexLabels);
    }
    body += "</section>";
  }
  body += "</div>";
}

void ReportWriter::index_histograms(std::string& body) const {
  body += "<h2 id=\"signals\">Quality signals</h2><div class=\"hists\">";
  for (const Histogram& h : histograms_.all()) {
    std::vector<ThresholdMarker> markers;
    for (const ThresholdRecord& t : thresholds_) {
      if (t.enabled && t.signal == h.axis().signal)
        markers.push_back({t.rule, t.threshold, t.rejects_below});
    }
    body += "<section class=\"panel\"><h3>";
    append_html_escaped(body, h.axis().title);
    body += "</h3>";
    body += render_histogram_svg(h, markers);
    fmt::format_to(std::back_inserter(body), "<div class=\"hist-foot\">{} images",
                   grouped(h.total()));
    if (h.below() > 0)
      fmt::format_to(std::back_inserter(body), " &middot; {} below the axis", grouped(h.below()));
    if (h.above() > 0)
      fmt::format_to(std::back_inserter(body), " &middot; {} above it", grouped(h.above()));
    for (const ThresholdMarker& m : markers) {
      const auto it = reasons_.find(m.rule);
      fmt::format_to(std::back_inserter(body), " &middot; <a href=\"{}\">",
                     rejects_page(m.rule, 1));
      append_html_escaped(body, m.rule);
      fmt::format_to(std::back_inserter(body), "</a>: {} rejected",
                     grouped(it == reasons_.end() ? 0 : it->second));
    }
    body += "</div></section>";
  }
  body += "</div>";
}

void ReportWriter::index_pass(std::string& body, const Manifest::PassMetrics& pass) {
  const RunReport& r = pass.report;
  const auto pct = [&](int64_t ns, int workers) {
    if (r.wall_ns <= 0 || workers <= 0) return 0.0;
    return std::clamp(100.0 * static_cast<double>(ns) /
                          (static_cast<double>(workers) * static_cast<double>(r.wall_ns)),
                      0.0, 100.0);
  };
  body +=
      "<section class=\"panel\" style=\"margin-bottom:16px\"><div "
      "class=\"panel-head\"><h3>Pass: ";
  append_html_escaped(body, pass.pass);
  fmt::format_to(std::back_inserter(body),
                 "</h3><span class=\"muted\">run {} &middot; wall time {}{}</span></div>",
                 pass.run_id, format_duration(r.wall_ns),
                 r.stopped ? " &middot; stopped early" : "");
  body +=
      "<table><thead><tr><th>stage</th><th class=\"num\">workers</th><th class=\"num\">items</th>"
      "<th>share of time</th><th class=\"num\">busy</th>"
      "<th class=\"num\">items/s</th><th class=\"num\">batch</th></tr></thead><tbody>";
  for (size_t i = 0; i < r.stages.size(); ++i) {
    const StageMetrics& s = r.stages[i];
    const bool bottleneck = static_cast<int>(i) == r.bottleneck;
    const double busy = pct(s.busy_ns, s.workers);
    const double in = pct(s.wait_input_ns, s.workers);
    const double out = pct(s.wait_output_ns, s.workers);
    const double rate =
        r.wall_ns > 0 ? static_cast<double>(s.items_out) * 1e9 / static_cast<double>(r.wall_ns) : 0;
    fmt::format_to(std::back_inserter(body), "<tr{}><td>",
                   bottleneck ? " class=\"bottleneck\"" : "");
    append_html_escaped(body, s.name);
    if (bottleneck) {
      body += r.sequential ? " <span class=\"chip bottleneck\">slowest step</span>"
                           : " <span class=\"chip bottleneck\">bottleneck</span>";
    }
    fmt::format_to(
        std::back_inserter(body),
        "</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td style=\"width:45%\">"
        "<div class=\"stack\" style=\"margin:0\" title=\"busy {:.1f}%, waiting for input "
        "{:.1f}%, waiting for room {:.1f}%\"><span class=\"c-busy\" "
        "style=\"width:{:.2f}%\"></span>"
        "<span class=\"c-wait-in\" style=\"width:{:.2f}%\"></span><span class=\"c-wait-out\" "
        "style=\"width:{:.2f}%\"></span></div></td><td class=\"num\">{:.0f}%</td>"
        "<td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        s.workers, grouped(static_cast<int64_t>(s.items_out)), busy, in, out, busy, in, out, busy,
        short_number(rate),
        s.batches == 0 ? std::string("&mdash;") : fmt::format("{:.1f}", s.mean_batch_size()));
  }
  body += "</tbody></table>";
  body +=
      "<div class=\"legend\" style=\"margin-top:8px\"><span><i class=\"c-busy\"></i>busy</span>"
      "<span><i class=\"c-wait-in\"></i>waiting for input</span><span><i class=\"c-wait-out\">"
      "</i>waiting for room downstream</span><span>(share of each stage's capacity: workers "
      "&times; wall time)</span></div>";
  if (r.sequential && r.bottleneck >= 0 && r.bottleneck < static_cast<int>(r.stages.size())) {
    // Steps that ran one after another: no stage waits on another, the slowest is the cost.
    const StageMetrics& s = r.stages[static_cast<size_t>(r.bottleneck)];
    body += "<p class=\"verdict\">The steps of this pass run one after another; the slowest is <b>";
    append_html_escaped(body, s.name);
    fmt::format_to(std::back_inserter(body), "</b>, {:.0f}% of its time.</p>", pct(s.busy_ns, 1));
  } else if (r.bottleneck >= 0 && r.bottleneck < static_cast<int>(r.stages.size())) {
    const auto b = static_cast<size_t>(r.bottleneck);
    const StageMetrics& s = r.stages[b];
    body += "<p class=\"verdict\">Bottleneck: <b>";
    append_html_escaped(body, s.name);
    fmt::format_to(std::back_inserter(body), "</b>, busy {:.0f}% of its capacity",
                   pct(s.busy_ns, s.workers));
    if (b > 0) {
      const StageMetrics& up = r.stages[b - 1];
      body += "; <i>";
      append_html_escaped(body, up.name);
      fmt::format_to(std::back_inserter(body), "</i> before it waits {:.0f}% for room",
                     pct(up.wait_output_ns, up.workers));
    }
    if (b + 1 < r.stages.size()) {
      const StageMetrics& down = r.stages[b + 1];
      body += "; <i>";
      append_html_escaped(body, down.name);
      fmt::format_to(std::back_inserter(body), "</i> after it waits {:.0f}% for input",
                     pct(down.wait_input_ns, down.workers));
    }
    body += ". Speeding it up (more workers, a faster device) speeds up the pass.</p>";
  }
  body += "</section>";
}

void ReportWriter::index_runs(std::string& body) const {
  const std::vector<Manifest::RunRecord> runs = manifest_.runs();
  body += "<h2 id=\"runs\">Runs</h2><section class=\"panel\" style=\"padding:4px 6px\">";
  if (runs.empty()) {
    body += "<div class=\"muted\" style=\"padding:12px\">No runs recorded.</div></section>";
    return;
  }
  body +=
      "<table><thead><tr><th class=\"num\">run</th><th>command</th><th>started</th>"
      "<th>ended</th><th>outcome</th><th>device</th><th>vpipe</th><th>counts</th></tr></"
      "thead><tbody>";
  size_t shown = 0;
  for (auto it = runs.rbegin(); it != runs.rend() && shown < kRunsShown; ++it, ++shown) {
    const Manifest::RunRecord& run = *it;
    const std::string outcome =
        run.outcome.empty() ? (run.ended_at.empty() ? "running or killed" : "?") : run.outcome;
    fmt::format_to(
        std::back_inserter(body),
        "<tr><td class=\"num\">{}</td><td><code>{}</code></td><td class=\"muted nowrap\">{}</td>"
        "<td class=\"muted nowrap\">{}</td><td><span class=\"chip {}\">{}</span></td><td>{}</td>"
        "<td class=\"muted\">{}</td><td class=\"counts muted\">{}</td></tr>",
        run.id, esc(run.command), esc(short_time(run.started_at)), esc(short_time(run.ended_at)),
        esc(outcome), esc(outcome), esc(run.device), esc(run.vpipe_version),
        esc(counts_text(run.counts)));
  }
  body += "</tbody></table>";
  if (runs.size() > kRunsShown) {
    fmt::format_to(std::back_inserter(body),
                   "<div class=\"muted\" style=\"padding:8px 10px\">{} earlier "
                   "runs not shown.</div>",
                   runs.size() - kRunsShown);
  }
  body += "</section>";
}

void ReportWriter::write_index() {
  std::string body = "<h1>";
  append_html_escaped(body, title_);
  fmt::format_to(
      std::back_inserter(body),
      "</h1><div class=\"sub\">{} files{} &middot; {} duplicate groups &middot; {} rejected "
      "&middot; generated {}</div>",
      grouped(files_), root_note(), grouped(groups_), grouped(rejected_), generated_at_);
  body += "<nav class=\"toc\">";
  if (!url_states_.empty()) body += "<a href=\"#crawl\">Crawl</a>";
  if (!models_.empty()) body += "<a href=\"#predictions\">Predictions</a>";
  body +=
      "<a href=\"#signals\">Quality signals</a><a href=\"#timings\">Stage timings</a>"
      "<a href=\"#runs\">Runs</a></nav>";
  index_cards(body);
  index_breakdown(body);
  index_crawl(body);
  index_predictions(body);
  index_histograms(body);
  const std::vector<Manifest::PassMetrics> passes = manifest_.latest_pass_metrics();
  body += "<h2 id=\"timings\">Stage timings</h2>";
  if (passes.empty()) {
    body += "<div class=\"empty\">No stage timings recorded.</div>";
  } else {
    for (const Manifest::PassMetrics& pass : passes) index_pass(body, pass);
  }
  index_runs(body);
  write_page("index.html", "index", "Overview", body);
}

}  // namespace vpipe::report_detail
