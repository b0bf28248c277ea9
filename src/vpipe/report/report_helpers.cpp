// The report's small formatting and naming helpers (report_writer.h).

#include "vpipe/report/report_writer.h"

namespace vpipe::report_detail {

/// What a quality rule means, for page headings (the threshold rules' own words, quality/rules.h).
std::string_view rule_text(std::string_view rule) {
  for (const ThresholdRuleInfo& r : threshold_rules()) {
    if (r.rule == rule) return r.meaning;
  }
  if (rule == "corrupt") return "no usable pixels: the file could not be read or decoded";
  return "rejected by this rule";
}

// ---------------------------------------------------------------------------------------------
// Small formatting helpers.

std::string esc(std::string_view text) { return html_escape(text); }

/// 1234567 -> "1,234,567".
std::string grouped(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

/// "1 file", "2 files".
std::string count_text(int64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", grouped(n), n == 1 ? one : many);
}

std::string percent(int64_t part, int64_t whole) {
  if (whole <= 0) return "0%";
  const double p = 100.0 * static_cast<double>(part) / static_cast<double>(whole);
  if (p > 0 && p < 0.1) return "<0.1%";
  return fmt::format("{:.1f}%", p);
}

/// Share 0..100 for CSS widths.
double share(int64_t part, int64_t whole) {
  return whole <= 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

std::string format_bytes(int64_t bytes) {
  const auto b = static_cast<double>(bytes);
  if (bytes < 1024) return fmt::format("{} B", bytes);
  if (b < 1024.0 * 1024) return fmt::format("{:.1f} KB", b / 1024);
  if (b < 1024.0 * 1024 * 1024) return fmt::format("{:.1f} MB", b / (1024.0 * 1024));
  return fmt::format("{:.2f} GB", b / (1024.0 * 1024 * 1024));
}

std::string format_duration(int64_t ns) {
  const double s = static_cast<double>(ns) / 1e9;
  if (s < 1) return fmt::format("{:.0f} ms", s * 1e3);
  if (s < 60) return fmt::format("{:.2f} s", s);
  const auto total = static_cast<int64_t>(s);
  if (total < 3600) return fmt::format("{} min {:02} s", total / 60, total % 60);
  return fmt::format("{} h {:02} min", total / 3600, (total / 60) % 60);
}

/// A measured value for display: 4 significant digits.
std::string value_text(double v) { return fmt::format("{:.4g}", v); }

/// "2024-05-01T12:34:56.789Z" -> "2024-05-01 12:34:56" (the manifest's timestamps, shortened).
std::string short_time(std::string_view iso) {
  std::string out(iso.substr(0, 19));
  if (out.size() > 10 && out[10] == 'T') out[10] = ' ';
  return out;
}

/// The runs' counts, a flat JSON object of numbers, as "keep 403 · reject 144".
std::string counts_text(std::string_view json) {
  std::string out;
  for (char c : json) {
    if (c == '{' || c == '}' || c == '"') continue;
    if (c == ',') {
      out += " · ";
    } else if (c == ':') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string now_utc() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

/// The keeper order of the newest dedup pass, as its run recorded it (`"keeper":[...]` in the
/// config of `vpipe dedup` and `vpipe run`); the default order when none is recorded.
std::vector<KeeperCriterion> recorded_keeper_order(const std::vector<Manifest::RunRecord>& runs) {
  static const std::regex kKeeperList(R"re("keeper"\s*:\s*\[([^\]]*)\])re");
  static const std::regex kName(R"re("([a-z_]+)")re");
  for (auto run = runs.rbegin(); run != runs.rend(); ++run) {
    if (run->command != "dedup") continue;
    std::smatch list;
    if (!std::regex_search(run->config, list, kKeeperList)) break;
    std::vector<KeeperCriterion> order;
    const std::string names = list[1].str();
    for (auto it = std::sregex_iterator(names.begin(), names.end(), kName);
         it != std::sregex_iterator(); ++it) {
      if (const auto c = keeper_criterion_from_string((*it)[1].str())) order.push_back(*c);
    }
    if (!order.empty()) return order;
    break;
  }
  return DedupOptions{}.keeper_order;
}

/// "a/b/c.jpg" -> {"a/b/", "c.jpg"}. Splitting at '/' never cuts a UTF-8 sequence.
std::pair<std::string_view, std::string_view> split_path(std::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {{}, path};
  return {path.substr(0, slash + 1), path.substr(slash + 1)};
}

/// The longest directory prefix ("/data/photos/") shared by two paths; "" when none.
std::string common_directory(std::string_view a, std::string_view b) {
  const size_t n =
      static_cast<size_t>(std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin());
  const size_t slash = a.substr(0, n).rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(a.substr(0, slash + 1));
}

/// A file-name-safe form of a rule name ([A-Za-z0-9_-]); anything else is replaced and a short
/// hash keeps two different rules apart.
std::string rule_slug(const std::string& rule) {
  std::string slug;
  bool changed = rule.empty();
  for (char c : rule) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    slug += ok ? c : '_';
    changed = changed || !ok;
  }
  if (changed)
    slug += fmt::format("-{:08x}", static_cast<uint32_t>(XXH3_64bits(rule.data(), rule.size())));
  return slug;
}

int64_t pages_for(int64_t items, int64_t page_size) {
  return std::max<int64_t>(1, (items + page_size - 1) / page_size);
}

std::string groups_page(int64_t page) { return fmt::format("groups-{}.html", page); }

std::string files_page(int64_t page) { return fmt::format("files-{}.html", page); }

std::string rejects_page(const std::string& rule, int64_t page) {
  return fmt::format("rejects-{}-{}.html", rule_slug(rule), page);
}

/// A model's predictions: "detections-<model>-N.html"; one label of them:
/// "detections-<model>.<label>-N.html" (a slug has no '.', so the two never collide).
std::string detections_page(const std::string& model, const std::string& label, int64_t page) {
  if (label.empty()) return fmt::format("detections-{}-{}.html", rule_slug(model), page);
  return fmt::format("detections-{}.{}-{}.html", rule_slug(model), rule_slug(label), page);
}

std::string crops_page(int64_t page) { return fmt::format("crops-{}.html", page); }

/// What a prediction is called on the page: its label, or its class id for a model without labels
/// (as InferenceStore::label_counts counts it).
std::string label_of(const DetectionRecord& d) {
  return d.label.empty() ? std::to_string(d.class_id) : d.label;
}

/// A colour class ("k0".."k7") per label, the same on every page.
std::string label_colour(const std::string& label) {
  return fmt::format("k{}", XXH3_64bits(label.data(), label.size()) % 8);
}

/// Size of the thumbnail ThumbnailCache makes of a `width` x `height` image with longer side
/// `size` (resize_to_fit: never enlarged, each side rounded): what a box is scaled to.
std::pair<int, int> preview_size(int width, int height, int size) {
  const int longer = std::max(width, height);
  if (longer <= size) return {width, height};
  const double scale = static_cast<double>(size) / longer;
  return {std::max(1, static_cast<int>(std::lround(width * scale))),
          std::max(1, static_cast<int>(std::lround(height * scale)))};
}

/// Previous / numbered / next links; nothing for a single page.
std::string pager(int64_t page, int64_t pages, const std::function<std::string(int64_t)>& name,
                  std::string_view info) {
  if (pages <= 1) return {};
  std::string out = "<nav class=\"pager\" aria-label=\"pages\">";
  if (page > 1) {
    fmt::format_to(std::back_inserter(out), "<a rel=\"prev\" href=\"{}\">&lsaquo; Previous</a>",
                   name(page - 1));
  } else {
    out += "<span class=\"dis\">&lsaquo; Previous</span>";
  }
  std::set<int64_t> shown = {1, pages};
  for (int64_t p = page - 2; p <= page + 2; ++p) {
    if (p >= 1 && p <= pages) shown.insert(p);
  }
  int64_t last = 0;
  for (int64_t p : shown) {
    if (p > last + 1) out += "<span class=\"gap\">&hellip;</span>";
    if (p == page) {
      fmt::format_to(std::back_inserter(out), "<span class=\"cur\" aria-current=\"page\">{}</span>",
                     p);
    } else {
      fmt::format_to(std::back_inserter(out), "<a href=\"{}\">{}</a>", name(p), p);
    }
    last = p;
  }
  if (page < pages) {
    fmt::format_to(std::back_inserter(out), "<a rel=\"next\" href=\"{}\">Next &rsaquo;</a>",
                   name(page + 1));
  } else {
    out += "<span class=\"dis\">Next &rsaquo;</span>";
  }
  fmt::format_to(std::back_inserter(out), "<span class=\"pinfo\">{}</span></nav>", info);
  return out;
}

}  // namespace vpipe::report_detail
