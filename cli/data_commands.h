// The data subcommands of the `mtfn` program: `mtfn synth` and `mtfn inspect` (see shared spec cli.md).
// Each registers itself on the main CLI11 app; main() stays in models/mtfn/.
// Errors: a one-line message on stderr, then CLI::RuntimeError(2) for bad arguments or files,
// CLI::RuntimeError(1) for failures while working (caught by the usual `app.exit(e)`).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace mtfn::data {

void add_synth_command(CLI::App& app);
void add_inspect_command(CLI::App& app);

// What `mtfn inspect FILE` prints, as a string (for tests); throws PickleError on a bad file.
std::string inspect_report(const std::string& path);

}  // namespace mtfn::data
