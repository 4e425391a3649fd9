// Running gnuplot (Debian's gnuplot-nox) on a script file: finding the program, and its errors.
// Not what is plotted (report.cpp writes the scripts).
#pragma once

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>

namespace mtfn::report {

// gnuplot is not installed: the page cannot have its figures.
class PlotterMissing : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The gnuplot program on PATH, if any.
std::optional<std::filesystem::path> find_gnuplot();

// Runs `gnuplot SCRIPT` in the script's folder (its file names are relative to it), its output to
// `log`. Throws std::runtime_error with the log's last lines if gnuplot fails.
void run_gnuplot(const std::filesystem::path& gnuplot, const std::filesystem::path& script,
                 const std::filesystem::path& log);

}  // namespace mtfn::report
