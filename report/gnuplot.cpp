// Finding and running gnuplot. A fork + exec, not a shell: no quoting of the folder's name.
#include "report/gnuplot.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace mtfn::report {

namespace fs = std::filesystem;

std::optional<fs::path> find_gnuplot() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const fs::path p = fs::path(dir.empty() ? "." : dir) / "gnuplot";
    if (::access(p.c_str(), X_OK) == 0 && !fs::is_directory(p)) return p;
  }
  return std::nullopt;
}

void run_gnuplot(const fs::path& gnuplot, const fs::path& script, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("cannot start gnuplot (fork failed)");
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    if (script.has_parent_path() && ::chdir(script.parent_path().c_str()) != 0) ::_exit(126);
    const std::string name = script.filename().string();
    ::execl(gnuplot.c_str(), "gnuplot", name.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::ifstream in(log);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::string tail;
  for (size_t i = lines.size() > 3 ? lines.size() - 3 : 0; i < lines.size(); ++i) tail += " " + lines[i];
  throw std::runtime_error(fmt::format("gnuplot failed on {} (status {}; {}):{}", script.string(),
                                       WIFEXITED(status) ? WEXITSTATUS(status) : -1, log.string(), tail));
}

}  // namespace mtfn::report
