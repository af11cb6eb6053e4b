// udrm-bench-report: Google Benchmark JSON files → report.md, plot data and gnuplot scripts.
//
//   udrm-bench-report --config families.conf --out DIR FILE.json...
//
// Exit status: 0 report written; 1 an input or the output failed (the message names it and the
// errno); 2 usage error.
#include <cstring>
#include <filesystem>
#include <iostream>

#include "families.h"
#include "report.h"
#include "results.h"

namespace {

int usage(const char* why) {
  std::cerr << "udrm-bench-report: " << why << "\n"
            << "usage: udrm-bench-report --config families.conf --out DIR FILE.json...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config, out;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" || a == "--out") {
      if (i + 1 >= argc) return usage((a + " needs a value").c_str());
      (a == "--config" ? config : out) = argv[++i];
    } else if (a == "-h" || a == "--help") {
      usage("help");
      return 0;
    } else if (a.rfind("--", 0) == 0) {
      return usage(("unknown option " + a).c_str());
    } else {
      inputs.push_back(a);
    }
  }
  if (config.empty()) return usage("--config is required");
  if (out.empty()) return usage("--out is required");
  if (inputs.empty()) return usage("no JSON files given");

  std::string err;
  bench_report::Families fam;
  if (bench_report::load_families(config, &fam, &err)) {
    std::cerr << "udrm-bench-report: " << err << "\n";
    return 1;
  }
  std::vector<bench_report::BenchFile> files;
  for (const std::string& in : inputs) {
    bench_report::BenchFile f;
    if (bench_report::load_bench_file(in, &f, &err)) {
      std::cerr << "udrm-bench-report: " << err << "\n";
      return 1;
    }
    for (const auto& r : f.rows) {
      if (!fam.match(r.name))
        std::cerr << "udrm-bench-report: warning: " << f.binary << ": " << r.name << ": no family in " << config << "\n";
      else if (!fam.baseline_of(r.name, f))
        std::cerr << "udrm-bench-report: warning: " << f.binary << ": " << r.name << ": baseline "
                  << fam.match(r.name)->baseline << " not in this run\n";
      if (!r.error.empty())
        std::cerr << "udrm-bench-report: warning: " << f.binary << ": " << r.name << ": " << r.error << "\n";
    }
    files.push_back(std::move(f));
  }
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) {
    std::cerr << "udrm-bench-report: " << out << ": " << ec.message() << "\n";
    return 1;
  }
  std::vector<std::string> plots;
  if (bench_report::write_plots(out, files, &plots, &err) || bench_report::write_markdown(out, files, fam, plots, &err)) {
    std::cerr << "udrm-bench-report: " << err << "\n";
    return 1;
  }
  std::cout << out << "/report.md\n";
  for (auto& p : plots) std::cout << out << "/" << p.substr(0, p.size() - 4) << ".gp\n";
  return 0;
}
