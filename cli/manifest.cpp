// See manifest.h.
#include "cli/manifest.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <tbb/global_control.h>

#include "core/errors.h"
#include "training/console_text.h"

extern "C" {
char* openblas_get_corename(void);
int openblas_get_num_threads(void);
}

#ifndef MTFN_VERSION
#define MTFN_VERSION "unknown"
#endif
#ifndef MTFN_GIT_DESCRIBE
#define MTFN_GIT_DESCRIBE "unknown"
#endif

namespace mtfn::cli {

namespace {
std::string g_command_line;

// Feeds `update` chunks to a SHA-256 context and returns the hex digest.
template <class Feed>
std::string sha256_of(Feed feed) {
  const std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256: OpenSSL could not start a digest");
  feed([&](const void* p, size_t n) { EVP_DigestUpdate(ctx.get(), p, n); });
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}
}  // namespace

std::string shell_quote(const std::string& a) {
  if (!a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,/:=+@%") ==
                        std::string::npos)
    return a;
  std::string q = "'";
  for (char ch : a) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

std::string join_command_line(int argc, const char* const* argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    if (i) out += ' ';
    out += shell_quote(argv[i]);
  }
  return out;
}

void remember_command_line(int argc, const char* const* argv) { g_command_line = join_command_line(argc, argv); }
const std::string& remembered_command_line() { return g_command_line; }

std::string program_version() { return fmt::format("{} (git {})", MTFN_VERSION, MTFN_GIT_DESCRIBE); }

std::string sha256_hex(const std::string& bytes) {
  return sha256_of([&](auto update) { update(bytes.data(), bytes.size()); });
}

std::string sha256_file(const std::string& path) {
  const std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) throw InputError(fmt::format("{}: cannot open to take its SHA-256", path));
  return sha256_of([&](auto update) {
    std::vector<char> buf(1 << 20);
    size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), f.get())) > 0) update(buf.data(), n);
    if (std::ferror(f.get())) throw InputError(fmt::format("{}: read error while taking its SHA-256", path));
  });
}

nlohmann::ordered_json train_manifest(const std::string& data_path, const std::string& data_label, int mpi_ranks) {
  nlohmann::ordered_json m;
  m["command"] = g_command_line;
  m["version"] = program_version();
  if (data_path.empty()) {
    m["data"] = {{"synthetic", data_label}};
  } else {
    std::error_code ec;
    const auto size = std::filesystem::file_size(data_path, ec);
    m["data"] = {{"path", std::filesystem::absolute(data_path).string()},
                 {"bytes", ec ? 0 : size},
                 {"sha256", sha256_file(data_path)}};
  }
  const char* core = openblas_get_corename();
  m["openblas"] = {{"core", core ? core : "unknown"}, {"threads", openblas_get_num_threads()}};
  m["tbb_max_parallelism"] = tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
  m["mpi_ranks"] = mpi_ranks;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  m["host"] = host;
  m["start_time"] = training::iso8601_local(std::time(nullptr));
  return m;
}

}  // namespace mtfn::cli
