// Runs that explain themselves and never lose work: the text `train` prints and logs (timestamps,
// 80 columns, the progress line's ETAs), the manifest of run.json / results.json (SHA-256 against
// FIPS 180-4's vectors), scripts/train.sh --out, the disk-space check, and a failed checkpoint write
// (file-size limit) that leaves the previous checkpoint intact.
#include <boost/test/unit_test.hpp>

#include <sys/mount.h>
#include <sys/wait.h>

#include <ctime>
#include <regex>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/manifest.h"
#include "core/errors.h"
#include "helpers.h"
#include "nn/safetensors.h"
#include "training/console_text.h"

using namespace mtfn;
using namespace mtfn::training;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

json read_json(const fs::path& p) { return json::parse(testing::read_text(p)); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The output of a shell command.
std::string shell_output(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ::pclose(p);
  return out;
}

int run_shell(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

const char* kQuick = " --synth-scale 0.05 --seeds 1111,1112 --max-epochs 3 --no-progress";

}  // namespace

BOOST_AUTO_TEST_SUITE(console_text)

BOOST_AUTO_TEST_CASE(log_timestamp_is_iso_8601_local_time) {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 10;
  tm.tm_mday = 29;
  tm.tm_hour = 13;
  tm.tm_min = 40;
  tm.tm_sec = 2;
  tm.tm_isdst = -1;
  const std::time_t t = std::mktime(&tm);  // local time
  BOOST_TEST(log_timestamp(t) == "2026-11-29 13:40:02 ");
  BOOST_TEST(timestamped_lines("a\nb", t) == "2026-11-29 13:40:02 a\n2026-11-29 13:40:02 b\n");
  BOOST_TEST(timestamped_lines("a\n", t) == "2026-11-29 13:40:02 a\n");
  BOOST_TEST(iso8601_local(t).substr(0, 19) == "2026-11-29T13:40:02");
}

BOOST_AUTO_TEST_CASE(wrap_fields_keeps_lines_within_the_width) {
  const std::vector<std::string> f = {"Mult_acc_2 0.8478", "Mult_acc_3 0.6304", "Mult_acc_5 0.5435",
                                      "F1_score 0.8476",   "MAE 0.2829",        "Corr 0.6623"};
  const auto lines = wrap_fields("    valid", f);
  BOOST_TEST_REQUIRE(lines.size() == 2u);
  BOOST_TEST(lines[0] == "    valid Mult_acc_2 0.8478 Mult_acc_3 0.6304 Mult_acc_5 0.5435 F1_score 0.8476");
  BOOST_TEST(lines[1] == "    MAE 0.2829 Corr 0.6623");
  for (const auto& l : lines) BOOST_TEST(l.size() <= 80u);
  BOOST_TEST(wrap_fields("head", {}).size() == 1u);
  const auto narrow = wrap_fields("h", {"aaaa", "bbbb", "cc"}, 2, 7);
  BOOST_TEST((narrow == std::vector<std::string>{"h aaaa", "  bbbb", "  cc"}));
}

BOOST_AUTO_TEST_CASE(durations_and_sizes) {
  BOOST_TEST(format_duration(0) == "0:00");
  BOOST_TEST(format_duration(75) == "1:15");
  BOOST_TEST(format_duration(3725) == "1:02:05");
  BOOST_TEST(format_duration(-1) == "?");
  BOOST_TEST(format_bytes(512) == "512 B");
  BOOST_TEST(format_bytes(1536) == "1.5 KiB");
  BOOST_TEST(format_bytes(uint64_t{3} << 30) == "3.0 GiB");
}

BOOST_AUTO_TEST_CASE(progress_line_shows_the_etas_and_the_phase) {
  Progress p{.epoch = 3, .done = 12, .total = 30, .sec_per_step = 0.5, .max_epochs = 10};
  // Epoch: 18 steps left * 0.5 s = 9 s; seed: 9 s + 7 epochs * 30 steps * 0.5 s = 114 s.
  BOOST_TEST(progress_line(p) == "  epoch 3 [######..........] 12/30 0.50 s/step ETA epoch 0:09 seed 1:54");
  p.max_epochs = 0;  // only early stopping bounds the seed
  BOOST_TEST(progress_line(p) == "  epoch 3 [######..........] 12/30 0.50 s/step ETA epoch 0:09 seed: epoch 3");
  p.done = 30;
  p.phase = Progress::Phase::validating;
  BOOST_TEST(progress_line(p) == "  epoch 3 [################] 30/30 validating ...");
  p.phase = Progress::Phase::saving;
  BOOST_TEST(progress_line(p) == "  epoch 3 [################] 30/30 saving the checkpoint ...");
  // The widest: 3-digit epochs and steps, hours left: still within 80 columns.
  const Progress wide{.epoch = 999, .done = 1, .total = 9999, .sec_per_step = 99.99, .max_epochs = 1000};
  BOOST_TEST(progress_line(wide).size() < 80u, progress_line(wide));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(manifest)

BOOST_AUTO_TEST_CASE(sha256_matches_the_fips_180_4_vectors) {
  BOOST_TEST(cli::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(cli::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(cli::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  BOOST_TEST(cli::sha256_hex(std::string(1000000, 'a')) ==
             "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // A file (read in 1 MiB chunks): the same digest as its bytes.
  const fs::path dir = testing::scratch("sha256");
  std::ofstream(dir / "a.bin") << std::string(3 << 20, 'x') + "tail";
  BOOST_TEST(cli::sha256_file((dir / "a.bin").string()) == cli::sha256_hex(std::string(3 << 20, 'x') + "tail"));
  BOOST_CHECK_THROW(cli::sha256_file((dir / "absent").string()), InputError);
}

BOOST_AUTO_TEST_CASE(command_lines_are_shell_quoted) {
  BOOST_TEST(cli::shell_quote("--out") == "--out");
  BOOST_TEST(cli::shell_quote("runs/a=1,b") == "runs/a=1,b");
  BOOST_TEST(cli::shell_quote("my run") == "'my run'");
  BOOST_TEST(cli::shell_quote("it's") == "'it'\\''s'");
  BOOST_TEST(cli::shell_quote("") == "''");
  const char* argv[] = {"mtfn", "train", "--out", "a b"};
  BOOST_TEST(cli::join_command_line(4, argv) == "mtfn train --out 'a b'");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(explain)

BOOST_AUTO_TEST_CASE(train_log_holds_all_the_console_prints_behind_timestamps) {
  const fs::path dir = testing::scratch("explain_log");
  const fs::path out = dir / "run";
  const std::string cfg = " --config " + testing::small_config(dir).string() + kQuick;
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --out " + out.string() + cfg, dir / "console.log") == 0);
  const auto console = lines_of(testing::read_text(dir / "console.log"));
  const auto log = lines_of(testing::read_text(out / "train.log"));
  // Every console line, in order, is a log line behind "YYYY-MM-DD HH:MM:SS " (the blank line before
  // the summary table aside).
  const std::regex stamp(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d )");
  std::vector<std::string> console_lines;
  for (const auto& l : console)
    if (!l.empty()) console_lines.push_back(l);
  BOOST_TEST_REQUIRE(log.size() == console_lines.size());
  for (size_t i = 0; i < log.size(); ++i) {
    BOOST_TEST(std::regex_search(log[i], stamp), log[i]);
    BOOST_TEST(log[i].substr(20) == console_lines[i]);
  }
  BOOST_TEST(log.front().substr(20).starts_with("mtfn train: mtfn on sims"));
  BOOST_TEST(log[log.size() - 2].substr(20).starts_with("results: "));
  BOOST_TEST(log.back().substr(20) == "report: " + (out / "report.html").string());  // the page, made last
  BOOST_TEST(testing::read_text(out / "train.log").find("test metric") != std::string::npos);
  // Epoch lines (and all the training lines) fit 80 columns: the valid metrics on indented lines.
  // The rule is for the text the program writes: the paths the user gave it (--out, --config) are
  // left out of the count, however deep the folder this test runs in.
  auto written_text = [&](std::string l) {
    for (const std::string& path : {out.string(), dir.string()})
      for (size_t at; (at = l.find(path)) != std::string::npos;) l.erase(at, path.size());
    return l;
  };
  size_t epochs = 0, valid = 0;
  for (const auto& line : console) {
    const std::string l = written_text(line);
    if (l.find(" epoch ") != std::string::npos && l.find("train_loss") != std::string::npos) {
      ++epochs;
      BOOST_TEST(l.size() <= 80u, line);
    }
    if (l.starts_with("    valid ")) ++valid;
    if (!l.starts_with("mtfn train:") && !l.starts_with("results:")) BOOST_TEST(l.size() <= 80u, line);
  }
  BOOST_TEST(epochs == 6u);
  BOOST_TEST(valid == 6u);
  // Before training: what the checkpoints take on disk.
  BOOST_TEST(testing::read_text(dir / "console.log").find("disk: up to ") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(run_json_and_results_json_record_the_manifest) {
  const fs::path dir = testing::scratch("explain_manifest");
  const fs::path out = dir / "my run";
  const fs::path data = dir / "data.pkl";
  BOOST_TEST_REQUIRE(testing::run_mtfn("synth --scale 0.05 --out " + data.string(), dir / "synth.log") == 0);
  const std::string cfg = " --config " + testing::small_config(dir).string() +
                          " --seeds 1111 --max-epochs 2 --no-progress --data " + data.string();
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --out '" + out.string() + "'" + cfg + " --threads 2", dir / "train.log") == 0);
  const json results = read_json(out / "results.json"), run = read_json(out / "run.json");
  const json m = results.at("manifest");
  BOOST_TEST(m == run.at("manifest"));
  BOOST_TEST(m["command"].get<std::string>() ==
             testing::mtfn_program().string() + " train --out '" + out.string() + "'" + cfg + " --threads 2");
  BOOST_TEST(m["version"].get<std::string>().starts_with("0.2.0 (git "));
  BOOST_TEST(m["data"]["path"] == fs::absolute(data).string());
  BOOST_TEST(m["data"]["bytes"] == fs::file_size(data));
  BOOST_TEST(m["data"]["sha256"].get<std::string>() ==
             shell_output("sha256sum " + data.string()).substr(0, 64));
  BOOST_TEST(!m["openblas"]["core"].get<std::string>().empty());
  BOOST_TEST(m["openblas"]["threads"].get<int>() >= 1);
  BOOST_TEST(m["tbb_max_parallelism"] == 2);  // --threads 2
  BOOST_TEST(m["mpi_ranks"] == 1);
  BOOST_TEST(m["host"].get<std::string>() == shell_output("hostname | tr -d '\\n'"));
  BOOST_TEST(m["start_time"].get<std::string>() <= m["end_time"].get<std::string>());
  BOOST_TEST(std::regex_match(m["end_time"].get<std::string>(),
                              std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4})")));
  // --resume compares only the run's identity: another command line, host, thread count or time is
  // fine, and the earlier manifest is kept.
  json edited = run;
  edited["manifest"]["host"] = "another-host";
  edited["manifest"]["start_time"] = "2020-01-01T00:00:00+0000";
  std::ofstream(out / "run.json") << edited.dump(1);
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --resume --out '" + out.string() + "'" + cfg + " --threads 1",
                                       dir / "resume.log") == 0);
  const json again = read_json(out / "run.json");
  BOOST_TEST(again["earlier_manifests"].size() == 1u);
  BOOST_TEST(again["earlier_manifests"][0]["host"] == "another-host");
  BOOST_TEST(again["manifest"]["tbb_max_parallelism"] == 1);
  BOOST_TEST(read_json(out / "results.json")["seeds"] == results["seeds"]);
}

BOOST_AUTO_TEST_CASE(train_sh_takes_the_users_out) {
  const fs::path dir = testing::scratch("explain_train_sh");
  const std::string cfg = " --config " + testing::small_config(dir).string() +
                          " --synth-scale 0.05 --seeds 1111 --max-epochs 1 --no-progress";
  const std::string sh = "cd " + testing::source_dir().string() + " && MTFN_NO_BUILD=1 MTFN=" +
                         testing::mtfn_program().string() + " bash scripts/train.sh";
  BOOST_TEST(run_shell(sh + " --out " + (dir / "a").string() + cfg + " >" + (dir / "a.log").string() + " 2>&1") == 0,
             testing::read_text(dir / "a.log"));
  BOOST_TEST(fs::exists(dir / "a/results.json"));
  BOOST_TEST(run_shell(sh + " --out=" + (dir / "b").string() + cfg + " >" + (dir / "b.log").string() + " 2>&1") == 0,
             testing::read_text(dir / "b.log"));
  BOOST_TEST(fs::exists(dir / "b/results.json"));
}

BOOST_AUTO_TEST_CASE(a_file_system_too_small_for_the_checkpoints_is_refused) {
  const fs::path dir = testing::scratch("explain_space");
  const fs::path small = dir / "small_fs";
  fs::create_directories(small);
  const std::string cfg = " --config " + testing::small_config(dir).string() + kQuick;
  // A 64 KiB file system (tmpfs): mounting needs root (CAP_SYS_ADMIN); elsewhere the case is skipped.
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=64k") != 0) {
    BOOST_TEST_MESSAGE("cannot mount a tmpfs here (not root?): the disk-space refusal is not tested");
    return;
  }
  const int rc = testing::run_mtfn("train --out " + (small / "run").string() + cfg, dir / "small.log");
  const std::string msg = testing::read_text(dir / "small.log");
  // Refused before anything was written (only the folder's lock): the same command can run again.
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(small / "run")) left.push_back(e.path().filename().string());
  ::umount(small.c_str());
  BOOST_TEST((left == std::vector<std::string>{".lock"}));
  BOOST_TEST(rc == 2, msg);
  const auto lines = lines_of(msg);
  BOOST_TEST_REQUIRE(!lines.empty());
  const std::string& err = lines.back();
  BOOST_TEST(err.starts_with("mtfn train: --out: " + (small / "run").string() + " has "), err);
  BOOST_TEST(err.find("free, the run needs up to ") != std::string::npos, err);
  BOOST_TEST(err.find("model + 2 Adam moments") != std::string::npos, err);
  // The same run where there is room: it prints the same figure and trains.
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --out " + (dir / "run").string() + cfg, dir / "room.log") == 0);
  const std::string room = testing::read_text(dir / "room.log");
  const std::string need = err.substr(err.find("needs up to ") + 12, err.find(':', err.find("needs up to ")) -
                                                                         err.find("needs up to ") - 12);
  BOOST_TEST(room.find("disk: up to " + need + " in") != std::string::npos, room + "\nneed: " + need);

}

BOOST_AUTO_TEST_CASE(a_checkpoint_write_over_the_file_size_limit_keeps_the_previous_one) {
  const fs::path dir = testing::scratch("explain_fsize");
  const std::string cfg = " --config " + testing::small_config(dir).string() +
                          " --synth-scale 0.05 --seeds 1111 --no-progress --keep-checkpoints";
  // Epoch 1's checkpoint, for its size and tensors.
  BOOST_TEST_REQUIRE(testing::run_mtfn("train --max-epochs 1 --out " + (dir / "one").string() + cfg,
                                       dir / "one.log") == 0);
  const fs::path one = dir / "one/checkpoints/seed-1111/last.safetensors";
  // 64 bytes of slack for the epoch's time, whose digits vary; one more epoch of history takes more.
  const auto limit = fs::file_size(one) + 64;
  // The same run with that file-size limit (SIGXFSZ ignored, so write() fails with EFBIG): epoch 2's
  // checkpoint (its history one epoch longer) cannot be written.
  const fs::path out = dir / "limited";
  const std::string cmd = fmt::format("bash -c \"trap '' XFSZ; exec prlimit --fsize={} {} train --max-epochs 3 --out {}{}\" "
                                      ">{} 2>&1",
                                      limit, testing::mtfn_program().string(), out.string(), cfg,
                                      (dir / "limited.log").string());
  BOOST_TEST(run_shell(cmd) == 1);
  const std::string msg = testing::read_text(dir / "limited.log");
  const fs::path last = out / "checkpoints/seed-1111/last.safetensors";
  const auto lines = lines_of(msg);
  BOOST_TEST_REQUIRE(!lines.empty());
  BOOST_TEST(lines.back().find(last.string() + ": writing " + last.string() + ".tmp: File too large") !=
                 std::string::npos,
             msg);
  BOOST_TEST(lines.back().find("the previous file is kept as it was") != std::string::npos, msg);
  BOOST_TEST(!fs::exists(last.string() + ".tmp"));
  // The previous checkpoint (epoch 1) is whole: the same tensors as the run that stopped there.
  const nn::SafetensorsFile kept = nn::read_safetensors(last.string()), ref = nn::read_safetensors(one.string());
  BOOST_TEST(json::parse(kept.metadata.at("trainer"))["state"]["epoch"] == 1);
  BOOST_TEST_REQUIRE(kept.tensors.size() == ref.tensors.size());
  auto a = kept.tensors.begin();
  for (auto b = ref.tensors.begin(); b != ref.tensors.end(); ++a, ++b) {
    BOOST_TEST(a->name == b->name);
    BOOST_TEST(a->tensor.to_vector() == b->tensor.to_vector(), a->name);
  }
  // And --resume continues from it once the limit is gone.
  BOOST_TEST(testing::run_mtfn("train --resume --max-epochs 3 --out " + out.string() + cfg, dir / "resume.log") == 0);
  BOOST_TEST(testing::read_text(dir / "resume.log").find("resumed after epoch 1") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
