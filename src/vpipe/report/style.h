#pragma once

#include <string_view>

namespace vpipe {

/// The report's one stylesheet (written as style.css): neutral light theme, dark theme through
/// prefers-color-scheme, no fonts or images from anywhere else.
extern const std::string_view kReportStyle;

}  // namespace vpipe
