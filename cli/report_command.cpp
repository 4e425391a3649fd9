// `mtfn report RUN_DIR [RUN_DIR ...] [--out DIR]`: the report page of one run or several
// (report/report.h). With one run the page goes into the run's folder unless --out says otherwise.
#include <filesystem>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "report/report.h"

namespace mtfn::cli {

void add_report_command(CLI::App& app) {
  struct Options {
    std::vector<std::string> runs;
    std::string out;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("report", "Write report.html: learning curves, seed tables, comparisons of runs");
  cmd->add_option("runs", opt->runs, "run folders of `mtfn train` (each with a results.json)")->required();
  cmd->add_option("--out", opt->out, "folder of report.html and report/ (default: the run's folder; needed for several runs)");
  cmd->callback([opt] {
    namespace fs = std::filesystem;
    if (opt->out.empty() && opt->runs.size() > 1)
      throw InputError("--out: needed with several runs (the page compares them; it belongs to none of them)");
    std::error_code ec;
    for (const std::string& r : opt->runs)
      if (!fs::is_directory(r, ec)) throw InputError(fmt::format("{}: not a folder (expected a run folder of `mtfn train`)", r));
    std::vector<fs::path> runs(opt->runs.begin(), opt->runs.end());
    const fs::path out = opt->out.empty() ? runs[0] : fs::path(opt->out);
    const fs::path page = report::write_report(runs, out);
    std::cout << fmt::format("report: {} (figures and their data in {})\n", page.string(), (out / "report").string());
  });
}

}  // namespace mtfn::cli
