#pragma once

#include "vpipe/curate/actions.h"
#include "vpipe/curate/dedup_pass.h"

namespace vpipe::cli {

/// Prints what a dedup pass decided (stdout): groups, decisions, reasons, timings.
void print_dedup_summary(const DedupPassSummary& s);
/// Prints what the actions did (stdout); nothing when they did nothing.
void print_action_summary(const ActionSummary& s);

}  // namespace vpipe::cli
