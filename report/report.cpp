// The report page: per run its facts and configuration, the test metrics over seeds beside the
// baseline and MMSA's published figures, MMSA's table, and per seed the learning curves; with
// several runs, a comparison first. Figures: one gnuplot script (report/plots.gp) run once.
//
// Every number a figure draws is in its .dat file, written with the shortest text that reads back
// as the same double, so a test can compare the .dat with results.json exactly.
#include "report/report.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "report/published.h"
#include "training/metrics.h"
#include "training/results.h"

namespace mtfn::report {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using training::MetricList;

namespace {

struct Run {
  fs::path dir;
  std::string name;    // "mtfn (runs/sims)"
  std::string prefix;  // file names of its figures: "run1"
  json results;
  json identity;  // run.json, or null
  const PublishedFigures* published = nullptr;
};

std::string html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// A string for a gnuplot script: in single quotes, where only ' needs doubling.
std::string gp(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

// A number in a .dat file: the shortest text that reads back as the same double; NaN as "NaN"
// (gnuplot's `set datafile missing`).
std::string num(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "NaN"; }

double value(const json& metrics, const std::string& name) {
  if (!metrics.is_object() || !metrics.contains(name) || metrics.at(name).is_null()) return std::nan("");
  return metrics.at(name).get<double>();
}

// As the program prints them: accuracies, F1 and Corr x100 with 2 places; MAE and Loss as they are.
std::string shown(const std::string& name, double v) {
  if (std::isnan(v)) return "n/a";
  return name == "MAE" || name == "Loss" ? fmt::format("{:.4f}", v) : fmt::format("{:.2f}", v * 100);
}

std::vector<std::string> keys_of(const json& j) {
  std::vector<std::string> k;
  if (j.is_object())
    for (auto it = j.begin(); it != j.end(); ++it) k.push_back(it.key());
  return k;
}

json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw InputError(fmt::format("{}: cannot read (is it a run folder of `mtfn train`?)", p.string()));
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw InputError(fmt::format("{}: not JSON: {}", p.string(), e.what()));
  }
}

Run load_run(const fs::path& dir, size_t index) {
  Run r;
  r.dir = dir;
  r.results = read_json(dir / "results.json");
  for (const char* k : {"model", "dataset", "mode", "seeds", "mean", "std"})
    if (!r.results.contains(k))
      throw InputError(fmt::format("{}: no \"{}\" (not a results.json of `mtfn train`)",
                                   (dir / "results.json").string(), k));
  std::error_code ec;
  if (fs::exists(dir / "run.json", ec)) r.identity = read_json(dir / "run.json");
  const std::string model = r.results.at("model").get<std::string>();
  std::string where = dir.lexically_normal().string();
  while (where.size() > 1 && where.back() == '/') where.pop_back();
  r.name = fmt::format("{} ({})", model, where);
  r.prefix = fmt::format("run{}", index + 1);
  r.published = find_published(model, r.results.at("dataset").get<std::string>(), r.results.at("mode").get<std::string>());
  return r;
}

void write_file(const fs::path& p, const std::string& text) { training::atomic_write_text(p, text); }

// A figure in both formats: the same gnuplot commands after each terminal.
std::string both_terminals(const std::string& stem, const std::string& body, int width, int height) {
  std::string s;
  s += fmt::format("reset\nset datafile missing 'NaN'\nset terminal svg size {},{} noenhanced font 'sans,12' background '#ffffff'\n"
                   "set output '{}.svg'\n{}\nunset output\n",
                   width, height, stem, body);
  s += fmt::format("reset\nset datafile missing 'NaN'\nset terminal pngcairo size {},{} noenhanced font 'sans,10' background '#ffffff'\n"
                   "set output '{}.png'\n{}\nunset output\n",
                   width, height, stem, body);
  return s;
}

std::string figure_html(const std::string& stem, const std::string& caption) {
  return fmt::format("<figure><img src=\"report/{0}.svg\" alt=\"{1}\"><figcaption>{1} (<a href=\"report/{0}.png\">PNG</a>, "
                     "<a href=\"report/{0}.dat\">data</a>)</figcaption></figure>\n",
                     stem, html(caption));
}

// Learning curves of one seed: <stem>-loss.dat (block 0: epoch train_loss valid_loss; block 1: the
// best epoch and its valid loss) and <stem>-valid.dat (epoch and each valid metric).
std::string seed_figures(const fs::path& dir, const Run& run, const json& seed, std::string& script) {
  const std::string stem = fmt::format("{}-seed-{}", run.prefix, seed.at("seed").get<uint64_t>());
  const int64_t best = seed.at("best_epoch").get<int64_t>();
  std::string loss = fmt::format("# {}: seed {} (results.json seeds[].epochs)\n# epoch train_loss valid_loss\n", run.name,
                                 seed.at("seed").get<uint64_t>());
  double best_valid = std::nan("");
  std::vector<std::string> metrics;
  std::string valid;
  for (const json& e : seed.at("epochs")) {
    const int64_t epoch = e.at("epoch").get<int64_t>();
    loss += fmt::format("{} {} {}\n", epoch, num(e.at("train_loss").get<double>()), num(e.at("valid_loss").get<double>()));
    if (epoch == best) best_valid = e.at("valid_loss").get<double>();
    if (metrics.empty()) metrics = keys_of(e.value("valid", json::object()));
    valid += std::to_string(epoch);
    for (const std::string& m : metrics) valid.append(" ").append(num(value(e.value("valid", json::object()), m)));
    valid += "\n";
  }
  loss += fmt::format("\n\n# best_epoch valid_loss\n{} {}\n", best, num(best_valid));
  std::string header = "# epoch";
  for (const std::string& m : metrics) header += " " + m;
  write_file(dir / (stem + "-loss.dat"), loss);
  write_file(dir / (stem + "-valid.dat"), header + "\n" + valid);

  const std::string title = fmt::format("{}, seed {}", run.name, seed.at("seed").get<uint64_t>());
  std::string body = fmt::format(
      "set title {}\nset xlabel 'epoch'\nset ylabel 'loss'\nset grid\nset key top right\n"
      "set arrow from {},graph 0 to {},graph 1 nohead dashtype 2 linecolor rgb '#888888'\n"
      "plot '{}-loss.dat' index 0 using 1:2 with linespoints pointtype 7 pointsize 0.6 linecolor rgb '#1f77b4' title 'train loss', "
      "'' index 0 using 1:3 with linespoints pointtype 7 pointsize 0.6 linecolor rgb '#d62728' title 'valid loss', "
      "'' index 1 using 1:2 with points pointtype 6 pointsize 2.5 linewidth 2 linecolor rgb '#000000' title 'best epoch {}'",
      gp(title + ": loss per epoch"), best, best, stem, best);
  script += both_terminals(stem + "-loss", body, 640, 360);
  std::string plots;
  const char* colours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  for (size_t i = 0; i < metrics.size(); ++i)
    plots += fmt::format("{}'{}-valid.dat' using 1:{} with linespoints pointtype 7 pointsize 0.5 linecolor rgb '{}' title {}",
                         i ? ", " : "", stem, i + 2, colours[i % 8], gp(metrics[i]));
  body = fmt::format(
      "set title {}\nset xlabel 'epoch'\nset ylabel 'valid metric (fraction; MAE as is)'\nset grid\nset key outside right\n"
      "set arrow from {},graph 0 to {},graph 1 nohead dashtype 2 linecolor rgb '#888888'\nplot {}",
      gp(title + ": valid metrics per epoch (dashed: best epoch)"), best, best, plots.empty() ? "NaN notitle" : plots);
  script += both_terminals(stem + "-valid", body, 640, 360);
  return figure_html(stem + "-loss", fmt::format("seed {}: train and valid loss per epoch, best epoch {} circled",
                                                 seed.at("seed").get<uint64_t>(), best)) +
         figure_html(stem + "-valid", fmt::format("seed {}: valid metrics per epoch, best epoch dashed", seed.at("seed").get<uint64_t>()));
}

// Test metrics over seeds: <prefix>-test.dat, one row per metric:
// index name mean std baseline published seed_1 ... seed_n. Drawn side by side at each metric:
// the seeds (left), mean ± std, the baseline, the published figure (right).
std::string test_figure(const fs::path& dir, const Run& run, std::string& script) {
  const json& res = run.results;
  const std::vector<std::string> metrics = keys_of(res.at("mean"));
  std::string dat = fmt::format("# {}: test metrics (results.json mean, std, baseline; seeds[].test)\n# index name mean std baseline published", run.name);
  for (const json& s : res.at("seeds")) dat += fmt::format(" seed_{}", s.at("seed").get<uint64_t>());
  dat += "\n";
  for (size_t i = 0; i < metrics.size(); ++i) {
    const std::string& m = metrics[i];
    const double pub = run.published && run.published->values.has(m) ? run.published->values.get(m) : std::nan("");
    dat += fmt::format("{} {} {} {} {} {}", i, m, num(value(res.at("mean"), m)), num(value(res.at("std"), m)),
                       num(value(res.value("baseline", json::object()), m)), num(pub));
    for (const json& s : res.at("seeds")) dat.append(" ").append(num(value(s.at("test"), m)));
    dat += "\n";
  }
  const std::string stem = run.prefix + "-test";
  write_file(dir / (stem + ".dat"), dat);
  const size_t n = res.at("seeds").size();
  std::string plots = fmt::format("'{0}.dat' using 1:3:4:xtic(2) with yerrorbars pointtype 5 pointsize 1.2 linewidth 2 "
                                  "linecolor rgb '#000000' title 'mean ± std over seeds', "
                                  "'' using ($1+0.15):5 with points pointtype 9 pointsize 1.8 linecolor rgb '#2ca02c' title 'baseline (train mean / majority)'",
                                  stem);
  if (run.published)
    plots += fmt::format(", '' using ($1+0.3):6 with points pointtype 13 pointsize 1.8 linecolor rgb '#d62728' title 'MMSA published (real data)'");
  for (size_t k = 0; k < n; ++k)
    plots += fmt::format(", '' using ($1+{}):{} with points pointtype 7 pointsize 0.7 linecolor rgb '#1f77b4' {}",
                         n > 1 ? -0.35 + 0.25 * static_cast<double>(k) / static_cast<double>(n - 1) : -0.2, 7 + k,
                         k == 0 ? "title 'each seed'" : "notitle");
  const std::string body = fmt::format(
      "set title {}\nset ylabel 'test metric (fraction; MAE and Loss as they are)'\nset grid ytics\nset key outside bottom center horizontal\n"
      "set xrange [-0.5:{}]\nset bars 2\nplot {}",
      gp(run.name + ": test metrics over " + std::to_string(n) + " seed" + (n == 1 ? "" : "s")),
      static_cast<double>(metrics.size()) - 0.5, plots);
  script += both_terminals(stem, body, 800, 420);
  return figure_html(stem, "test metrics: each seed, mean ± std, the baseline" +
                               std::string(run.published ? ", MMSA's published figures" : ""));
}

// Several runs: compare.dat, one row per metric of the first run: index name, then mean std for
// each run, then published (std 0) for each run that has published figures.
std::string compare_figure(const fs::path& dir, const std::vector<Run>& runs, std::string& script) {
  const std::vector<std::string> metrics = keys_of(runs[0].results.at("mean"));
  std::string dat = "# test metrics of several runs (results.json mean, std)\n# index name";
  for (const Run& r : runs) dat += fmt::format(" mean:{0} std:{0}", r.prefix);
  for (const Run& r : runs)
    if (r.published) dat += fmt::format(" published:{0} zero", r.prefix);
  dat += "\n";
  for (size_t i = 0; i < metrics.size(); ++i) {
    dat += fmt::format("{} {}", i, metrics[i]);
    for (const Run& r : runs)
      dat.append(" ").append(num(value(r.results.at("mean"), metrics[i]))).append(" ").append(num(value(r.results.at("std"), metrics[i])));
    for (const Run& r : runs)
      if (r.published)
        dat.append(" ").append(num(r.published->values.has(metrics[i]) ? r.published->values.get(metrics[i]) : std::nan(""))).append(" 0");
    dat += "\n";
  }
  write_file(dir / "compare.dat", dat);
  std::string plots;
  int col = 3;
  for (const Run& r : runs) {
    plots += fmt::format("{}'compare.dat' using {}:{}{} title {}", plots.empty() ? "" : ", ", col, col + 1,
                         col == 3 ? ":xtic(2)" : "", gp(r.name));
    col += 2;
  }
  for (const Run& r : runs)
    if (r.published) {
      plots += fmt::format(", '' using {}:{} title {}", col, col + 1,
                           gp("MMSA published " + r.results.at("model").get<std::string>() + " (real data)"));
      col += 2;
    }
  const std::string body = fmt::format(
      "set title 'test metrics, mean ± std over seeds'\nset style data histograms\n"
      "set style histogram errorbars gap 1 linewidth 1\nset style fill solid 0.7 border -1\nset grid ytics\n"
      "set ylabel 'fraction; MAE and Loss as they are'\nset key outside bottom center horizontal\nplot {}",
      plots);
  script += both_terminals("compare", body, 900, 420);
  return figure_html("compare", "test metrics of each run (bars: mean, whiskers: std over seeds)");
}

// MMSA's table: "(mean, std)" x100 per metric, as normal/<dataset>.csv; published figures below.
std::string mmsa_table(const std::vector<const Run*>& runs) {
  const std::vector<std::string> metrics = keys_of(runs[0]->results.at("mean"));
  std::string t = "<table><tr><th>Model</th>";
  for (const std::string& m : metrics) t += "<th>" + html(m) + "</th>";
  t += "</tr>\n";
  for (const Run* r : runs) {
    t += "<tr><td>" + html(r->name) + "</td>";
    for (const std::string& m : metrics)
      t += "<td>" + html(training::mmsa_csv_cell(value(r->results.at("mean"), m), value(r->results.at("std"), m))) + "</td>";
    t += "</tr>\n";
  }
  for (const Run* r : runs) {
    if (!r->published) continue;
    t += "<tr class=\"published\"><td>" + html(r->published->source) + "</td>";
    for (const std::string& m : metrics)
      t += "<td>" + (r->published->values.has(m) ? fmt::format("{:.2f}", r->published->values.get(m) * 100) : "") + "</td>";
    t += "</tr>\n";
  }
  t += "</table>\n<p class=\"note\">Every metric x100 (MAE and Loss too), as in MMSA's results CSV: (mean, population "
       "std) over seeds. Published rows are MMSA's own figures on the real data, not a run of this program.</p>\n";
  return t;
}

std::string seeds_table(const Run& run) {
  const json& res = run.results;
  const std::vector<std::string> metrics = keys_of(res.at("mean"));
  std::string t = "<table><tr><th>seed</th><th>best epoch</th>";
  for (const std::string& m : metrics) t += "<th>" + html(m) + "</th>";
  t += "</tr>\n";
  for (const json& s : res.at("seeds")) {
    t += fmt::format("<tr><td>{}</td><td>{} of {}</td>", s.at("seed").get<uint64_t>(), s.at("best_epoch").get<int64_t>(),
                     s.at("epochs").size());
    for (const std::string& m : metrics) t += "<td>" + shown(m, value(s.at("test"), m)) + "</td>";
    t += "</tr>\n";
  }
  auto row = [&](const std::string& label, const json& values, const char* cls) {
    std::string r = fmt::format("<tr class=\"{}\"><td colspan=\"2\">{}</td>", cls, html(label));
    for (const std::string& m : metrics) r += "<td>" + shown(m, value(values, m)) + "</td>";
    return r + "</tr>\n";
  };
  t += row("mean", res.at("mean"), "summary") + row("std", res.at("std"), "summary") +
       row(res.value("mode", "") == "classification" ? "baseline (majority class)" : "baseline (train mean)",
           res.value("baseline", json::object()), "baseline");
  if (run.published) t += row("MMSA published, real data", training::metrics_to_json(run.published->values), "published");
  t += "</table>\n<p class=\"note\">x100 except MAE and Loss; std is the population std over seeds; n/a: undefined "
       "(the correlation of a constant prediction).</p>\n";
  return t;
}

std::string json_cell(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string facts(const Run& run) {
  const json& res = run.results;
  std::string t = "<table class=\"facts\">\n";
  auto row = [&](const std::string& k, const std::string& v) { t += "<tr><th>" + html(k) + "</th><td>" + html(v) + "</td></tr>\n"; };
  row("folder", run.dir.string());
  row("model", res.value("model", ""));
  row("dataset", res.value("dataset", "") + ", " + res.value("mode", "") + " mode");
  row("data", res.value("data", ""));
  row("seeds", std::to_string(res.at("seeds").size()));
  if (res.contains("manifest") && res.at("manifest").is_object())
    for (auto it = res.at("manifest").begin(); it != res.at("manifest").end(); ++it) row("manifest: " + it.key(), json_cell(it.value()));
  if (run.identity.is_object() && run.identity.contains("data")) row("data summary (run.json)", run.identity.at("data").dump());
  t += "</table>\n<details open><summary>configuration (MMSA's keys)</summary><table class=\"facts\">\n";
  const json config = res.value("config", json::object());
  for (auto it = config.begin(); it != config.end(); ++it) row(it.key(), json_cell(it.value()));
  return t + "</table></details>\n";
}

const char* kStyle = R"(body{font-family:sans-serif;margin:2em;max-width:1150px;color:#222}
h1{font-size:1.6em}h2{border-bottom:2px solid #1f77b4;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #bbb;padding:.25em .6em;text-align:right;white-space:nowrap}
th{background:#eef3f8}table.facts td,table.facts th{text-align:left}table.facts td,td:first-child{white-space:normal}tr.published td:first-child{max-width:20em}tr.summary td{background:#f4f4f4;font-weight:bold}
tr.baseline td{background:#eef8ee}tr.published td{background:#fbeeee;font-style:italic}
figure{display:inline-block;margin:.5em 1em .5em 0}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.85em;color:#555}.note{font-size:.85em;color:#555})";

}  // namespace

fs::path write_report(const std::vector<fs::path>& run_dirs, const fs::path& out) {
  if (run_dirs.empty()) throw InputError("no run folder given");
  std::vector<Run> runs;
  for (size_t i = 0; i < run_dirs.size(); ++i) runs.push_back(load_run(run_dirs[i], i));
  const std::optional<fs::path> gnuplot = find_gnuplot();
  if (!gnuplot)
    throw PlotterMissing("gnuplot is not installed (Debian: apt-get install gnuplot-nox); the report's figures need it");
  const fs::path dir = out / "report";
  fs::create_directories(dir);
  std::string script, body;
  if (runs.size() > 1) {
    std::vector<const Run*> all;
    for (const Run& r : runs) all.push_back(&r);
    body += "<h2>Comparison</h2>\n" + mmsa_table(all) + compare_figure(dir, runs, script);
  }
  for (const Run& r : runs) {
    body += fmt::format("<h2 id=\"{}\">{}</h2>\n", r.prefix, html(r.name)) + facts(r);
    body += "<h3>Test metrics over seeds</h3>\n" + seeds_table(r) + test_figure(dir, r, script);
    body += "<h3>MMSA's table</h3>\n" + mmsa_table({&r});
    if (r.published && r.results.value("data", "").rfind("synthetic", 0) == 0)
      body += "<p class=\"note\">This run is on synthetic data: the published figures (real CH-SIMS) are shown for "
              "their scale only.</p>\n";
    body += "<h3>Learning curves</h3>\n";
    for (const json& s : r.results.at("seeds")) body += seed_figures(dir, r, s, script);
  }
  write_file(dir / "plots.gp", script);
  run_gnuplot(*gnuplot, dir / "plots.gp", dir / "gnuplot.log");
  std::string title;
  for (const Run& r : runs) title += (title.empty() ? "" : " vs ") + r.name;
  const std::string page = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>mtfn report: {0}</title>\n<style>{1}</style>"
      "</head>\n<body>\n<h1>mtfn report: {0}</h1>\n<p class=\"note\">Made by <code>mtfn report</code> from each run folder's "
      "results.json; figures drawn by gnuplot from the .dat files in report/.</p>\n{2}</body></html>\n",
      html(title), kStyle, body);
  const fs::path page_path = out / "report.html";
  write_file(page_path, page);
  return page_path;
}

}  // namespace mtfn::report
