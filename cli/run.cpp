// cli::run: parsing, running a subcommand, and the exit status of every way it can end.
#include <iostream>
#include <new>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/manifest.h"
#include "training/stop_request.h"

namespace mtfn::cli {

namespace {

// "mtfn <command>: <message>" on one line.
void print_error(const CLI::App& app, const std::string& message) {
  std::string line = message;
  for (char& ch : line)
    if (ch == '\n') ch = ' ';
  const auto run = app.get_subcommands();
  std::cerr << "mtfn" << (run.empty() ? "" : " " + run.front()->get_name()) << ": " << line << "\n";
}

// "synth, inspect, train, ...": what `mtfn` with no or an unknown subcommand offers.
std::string subcommand_list(const CLI::App& app) {
  std::string out;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    out += (out.empty() ? "" : ", ") + sub->get_name();
  return out;
}

// The same command with --resume (and without --overwrite): what continues a stopped run.
std::string resume_command(int argc, const char* const* argv) {
  std::string out = "mtfn";
  bool has_resume = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--overwrite") continue;
    has_resume = has_resume || a == "--resume";
    if (a.empty() || a.find_first_of(" \t'\"$`\\") != std::string::npos) {
      std::string q = "'";
      for (char ch : a) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
      a = q + "'";
    }
    out += " " + a;
  }
  return has_resume ? out : out + " --resume";
}

}  // namespace

int run(CLI::App& app, int argc, const char* const* argv) {
  remember_command_line(argc, argv);  // for the manifest of a run (manifest.h)
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::RuntimeError& e) {
    // A subcommand reported its result itself (check-grads outside the tolerance).
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    // Bad arguments: one line on stderr, exit status 2 (spec/cli.md).
    if (e.get_exit_code() == 0) return app.exit(e);
    if (app.get_subcommands().empty()) {  // no subcommand, or an unknown one
      const bool unknown = argc > 1 && argv[1][0] != '-';
      std::cerr << "mtfn: " << (unknown ? "unknown subcommand '" + std::string(argv[1]) + "'" : std::string(e.what()))
                << "; the subcommands are: " << subcommand_list(app)
                << " (mtfn SUBCOMMAND --help)\n";
      return 2;
    }
    std::cerr << "mtfn: " << e.what() << "\n";
    return e.get_exit_code() == 1 ? 1 : 2;
  } catch (const training::Interrupted& e) {
    // Stopped at a safe point by Ctrl-C / SIGTERM: the shell's status for that signal.
    print_error(app, std::string(e.what()) + "; to continue: " + resume_command(argc, argv));
    return 128 + e.signal;
  } catch (const InputError& e) {
    print_error(app, e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    print_error(app, "out of memory");
    return 1;
  } catch (const std::exception& e) {
    print_error(app, e.what());
    return 1;
  }
  return 0;
}

}  // namespace mtfn::cli
