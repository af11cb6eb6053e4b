// families.conf parsing and baseline resolution (families.h).
#include "families.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace bench_report {

std::string Target::text() const {
  if (!op) return "";
  char b[48];
  std::snprintf(b, sizeof(b), "%s %gx", op == '<' ? "≤" : "≥", value);
  return b;
}

bool Target::met(double ratio) const {
  if (op == '<') return ratio <= value;
  if (op == '>') return ratio >= value;
  return true;
}

const Family* Families::match(const std::string& name) const {
  const Family* best = nullptr;
  for (const Family& f : list) {
    bool ok = name == f.prefix || (name.size() > f.prefix.size() && name.compare(0, f.prefix.size(), f.prefix) == 0 &&
                                   name[f.prefix.size()] == '/');
    if (ok && (!best || f.prefix.size() > best->prefix.size())) best = &f;
  }
  return best;
}

namespace {

std::vector<std::string> split_components(const std::string& rest) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < rest.size()) {
    if (rest[i] == '/') {
      ++i;
      continue;
    }
    std::size_t j = rest.find('/', i);
    if (j == std::string::npos) j = rest.size();
    out.push_back(rest.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

const Row* Families::baseline_of(const std::string& name, const BenchFile& file) const {
  const Family* f = match(name);
  if (!f) return nullptr;
  std::vector<std::string> comp = split_components(name.substr(f->prefix.size()));
  const std::size_t n = comp.size() < 16 ? comp.size() : 16;
  // Keep as many components as possible: subsets by decreasing size, each in name order.
  for (std::size_t keep = n + 1; keep-- > 0;) {
    for (unsigned mask = 0; mask < (1u << n); ++mask) {
      if (static_cast<std::size_t>(__builtin_popcount(mask)) != keep) continue;
      std::string cand = f->baseline;
      for (std::size_t i = 0; i < n; ++i)
        if (mask & (1u << i)) cand += "/" + comp[i];
      if (const Row* r = file.find(cand)) return r;
    }
  }
  return nullptr;
}

int load_families(const std::string& path, Families* out, std::string* err) {
  std::ifstream in(path);
  if (!in) {
    *err = path + ": cannot read (ENOENT)";
    return -ENOENT;
  }
  Families fs;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (std::size_t h = line.find('#'); h != std::string::npos) line.resize(h);
    std::istringstream ls(line);
    Family f;
    std::string target, extra;
    if (!(ls >> f.prefix)) continue;  // blank or comment
    auto bad = [&](const std::string& why) {
      *err = path + ":" + std::to_string(lineno) + ": " + why + " (EINVAL)";
      return -EINVAL;
    };
    if (!(ls >> f.baseline)) return bad("'" + f.prefix + "' has no baseline");
    if (ls >> target && target != "-") {
      if (target.size() < 3 || (target.compare(0, 2, "<=") != 0 && target.compare(0, 2, ">=") != 0))
        return bad("target '" + target + "' is not <=R or >=R");
      char* end = nullptr;
      f.target.value = std::strtod(target.c_str() + 2, &end);
      if (!end || *end || !(f.target.value > 0)) return bad("target '" + target + "': ratio is not a positive number");
      f.target.op = target[0];
    }
    if (ls >> extra) return bad("unexpected '" + extra + "' (FAMILY BASELINE [TARGET])");
    for (const Family& g : fs.list)
      if (g.prefix == f.prefix) return bad("family '" + f.prefix + "' listed twice");
    fs.list.push_back(std::move(f));
  }
  *out = std::move(fs);
  return 0;
}

}  // namespace bench_report
