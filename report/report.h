// The report page of one run or several: OUT/report.html and, in OUT/report/, its figures (SVG and
// PNG, drawn by gnuplot from a script file) beside the .dat files they are drawn from. Everything
// comes from each run folder's results.json (and run.json, when there). The page needs no
// JavaScript and nothing from the network. Not the training (training/), not the command (cli/).
#pragma once

#include <filesystem>
#include <vector>

#include "report/gnuplot.h"

namespace mtfn::report {

// Writes the page of `runs` (run folders, each with a results.json) to out/report.html; returns its
// path. Throws InputError for a folder without a readable results.json, PlotterMissing when gnuplot
// is not installed (before anything is written), std::runtime_error when gnuplot fails.
std::filesystem::path write_report(const std::vector<std::filesystem::path>& runs, const std::filesystem::path& out);

}  // namespace mtfn::report
