#include "vpipe/crawl/robots.h"

#include <algorithm>
#include <cctype>

#include "vpipe/core/text.h"

namespace vpipe {
namespace {

/// Does `pattern` ('*' wildcards, optional trailing '$') match a prefix of `path` (all of it
/// with '$')? Greedy-free backtracking over the '*' positions: O(len(pattern) * len(path)).
bool matches(std::string_view pattern, std::string_view path) {
  bool anchored = false;
  if (!pattern.empty() && pattern.back() == '$') {
    anchored = true;
    pattern.remove_suffix(1);
  }
  // reachable[j]: pattern prefix consumed so far can end at path position j
  std::vector<char> reachable(path.size() + 1, 0);
  reachable[0] = 1;
  for (char pc : pattern) {
    std::vector<char> next(path.size() + 1, 0);
    if (pc == '*') {
      char any = 0;
      for (size_t j = 0; j <= path.size(); ++j) {
        any = static_cast<char>(any | reachable[j]);
        next[j] = any;
      }
    } else {
      for (size_t j = 0; j < path.size(); ++j) {
        if (reachable[j] && path[j] == pc) next[j + 1] = 1;
      }
    }
    reachable.swap(next);
  }
  if (anchored) return reachable[path.size()] != 0;
  return std::any_of(reachable.begin(), reachable.end(), [](char c) { return c != 0; });
}

}  // namespace

RobotsRules RobotsRules::parse(std::string_view text, std::string_view user_agent) {
  std::string token(user_agent.substr(0, user_agent.find_first_of("/ ")));
  token = ascii_lower(trim(token));

  struct Group {
    std::vector<std::string> agents;
    std::vector<Rule> rules;
  };
  std::vector<Group> groups;
  bool in_agents = false;  // the previous directive was a User-agent line
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string key = ascii_lower(trim(line.substr(0, colon)));
    const std::string_view value = trim(line.substr(colon + 1));
    if (key == "user-agent") {
      if (!in_agents) groups.emplace_back();
      groups.back().agents.push_back(ascii_lower(value));
      in_agents = true;
    } else if (key == "allow" || key == "disallow") {
      in_agents = false;
      if (groups.empty()) continue;  // rules before any User-agent belong to no group
      if (value.empty()) continue;   // "Disallow:" with nothing means no rule
      Rule rule;
      rule.allow = key == "allow";
      rule.pattern = std::string(value);
      groups.back().rules.push_back(std::move(rule));
    } else {
      in_agents = false;  // sitemap, crawl-delay...: ends a run of User-agent lines
    }
  }

  RobotsRules out;
  auto collect = [&](auto&& pick) {
    bool any = false;
    for (const Group& g : groups) {
      if (std::any_of(g.agents.begin(), g.agents.end(), pick)) {
        any = true;
        out.rules_.insert(out.rules_.end(), g.rules.begin(), g.rules.end());
      }
    }
    return any;
  };
  if (token.empty() || !collect([&](const std::string& a) { return a == token; })) {
    collect([](const std::string& a) { return a == "*"; });
  }
  return out;
}

RobotsRules RobotsRules::disallow_all() {
  RobotsRules out;
  Rule rule;
  rule.allow = false;
  rule.pattern = "/";
  out.rules_.push_back(std::move(rule));
  return out;
}

bool RobotsRules::allowed(std::string_view path) const {
  if (path == "/robots.txt") return true;
  if (path.empty()) path = "/";
  size_t best_len = 0;
  bool best_allow = true;
  bool any = false;
  for (const Rule& r : rules_) {
    if (!matches(r.pattern, path)) continue;
    const size_t len = r.pattern.size();
    if (!any || len > best_len || (len == best_len && r.allow)) {
      best_len = len;
      best_allow = r.allow;
      any = true;
    }
  }
  return !any || best_allow;
}

}  // namespace vpipe
