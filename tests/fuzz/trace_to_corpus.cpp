// udrm_fuzz_trace2corpus: turns a `udrm-run --record-ioctls` log of real clients (modetest,
// proptest, vbltest, ...) into one fuzz input (decoder.h) that replays the same session.
//
//   udrm_fuzz_trace2corpus --driver simple|soc [--max-bytes N] LOG OUT
//
// The log (tools/udrm-run/server.h, IoctlRecorder) has one record per line, each starting with
// "<microseconds> <connection> ":
//   open NODE RET | ioctl CMD ADDR RET IN-HEX OUT-HEX | read LEN RET |
//   mmap OFFSET LEN PROT RET ID | munmap ID RET | close | unbind DEV RET | bind DEV RET
// (numbers in decimal, "-" for no bytes); an ioctl record is followed by " peek ADDR HEX" and
// " poke ADDR HEX" lines for the client memory the server read and wrote during the call.
//
// Conversion: each connection with a successful open becomes a file slot (the harness's slot
// order: first free or closed slot). For an ioctl, the argument and every peeked/poked range
// are laid out in the arena (same address alignment mod 8); u64 fields of the argument (and of
// peeked data) that pointed into one of those ranges become tagged arena offsets; the peeked
// bytes are poked first. mmap at the file's last MAP_DUMB offset uses offset 0 (the harness's
// "last MAP_DUMB offset"), and is followed by a fill (the client drawing). Gaps in time become
// vblank ticks (at most 100 ms each); a read that got events is preceded by at least one frame
// of ticks. The output stops before it would pass --max-bytes (default 16000).
#include <drm.h>
#include <drm_mode.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "decoder.h"
#include "oracle.h"

namespace {

using udrm::fuzz::Config;
using udrm::fuzz::Encoder;
using udrm::fuzz::kArenaSize;
using udrm::fuzz::kMaxFiles;
using udrm::fuzz::tagged;

std::vector<uint8_t> unhex(const std::string& s) {
  std::vector<uint8_t> out;
  if (s == "-") return out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoul(s.substr(i, 2), nullptr, 16)));
  return out;
}

struct Mem {
  bool peek;
  uint64_t addr;
  std::vector<uint8_t> data;
};

struct Record {
  uint64_t us = 0, conn = 0;
  std::string kind;
  std::vector<std::string> f;  // fields after the kind
  std::vector<Mem> mem;        // ioctl: peeks and pokes
};

struct Region {
  uint64_t start, end;  // [start, end)
  uint64_t off = 0;     // arena offset
};

class Converter {
 public:
  Converter(Config cfg, std::size_t max_bytes) : enc_(cfg), soc_(cfg.soc), max_(max_bytes) {}

  void add(const Record& r) {
    if (stopped_) return;
    const std::size_t before = enc_.size();
    convert(r);
    if (enc_.size() > max_) {  // past the budget: drop this record's ops and stop
      enc_.truncate(before);
      stopped_ = true;
    }
  }

  const std::vector<uint8_t>& bytes() const { return enc_.bytes(); }
  int ioctls = 0, dropped = 0, ops = 0;
  bool truncated() const { return stopped_; }

 private:
  void ticks_to(uint64_t us, uint64_t at_least_ms = 0) {
    uint64_t gap_ms = last_us_ && us > last_us_ ? (us - last_us_) / 1000 : 0;
    gap_ms = std::max(gap_ms, at_least_ms);
    gap_ms = std::min<uint64_t>(gap_ms, 100);
    while (gap_ms >= 2) {
      unsigned ms = static_cast<unsigned>(std::min<uint64_t>(gap_ms, 256));
      enc_.tick(ms);
      gap_ms -= ms;
    }
    if (us > last_us_) last_us_ = us;
  }

  int slot_of(uint64_t conn) {
    auto it = slot_.find(conn);
    return it == slot_.end() ? -1 : it->second;
  }

  void convert(const Record& r) {
    if (r.kind == "open") {
      if (r.f.size() < 2 || std::stoi(r.f[1]) != 0) return;
      int s = -1;
      for (unsigned i = 0; i < kMaxFiles; ++i)
        if (state_[i] != 1) {
          s = static_cast<int>(i);
          break;
        }
      if (s < 0) return;
      ticks_to(r.us);
      enc_.open(r.f[0].rfind("render", 0) == 0);
      state_[s] = 1;
      slot_[r.conn] = s;
      ++ops;
      return;
    }
    if (r.kind == "unbind" || r.kind == "bind") {
      ticks_to(r.us);
      uint8_t dev = 0;
      if (soc_) dev = r.f[0] == "hdmi" ? 1 : r.f[0] == "panel" ? 2 : 0;
      if (r.kind == "unbind") enc_.unbind(dev);
      else enc_.rebind(dev);
      ++ops;
      return;
    }
    const int s = slot_of(r.conn);
    if (s < 0) return;
    const auto file = static_cast<uint8_t>(s);
    if (r.kind == "close") {
      ticks_to(r.us);
      enc_.close(file);
      state_[s] = 2;
      slot_.erase(r.conn);
      ++ops;
    } else if (r.kind == "read") {
      const long ret = std::stol(r.f[1]);
      ticks_to(r.us, ret > 0 ? 17 : 0);
      enc_.read(file, std::stoull(r.f[0]), 0);
      ++ops;
    } else if (r.kind == "mmap") {
      if (std::stoi(r.f[3]) != 0) return;
      ticks_to(r.us);
      const uint64_t off = std::stoull(r.f[0]);
      enc_.mmap(file, off == last_map_offset_[r.conn] ? 0 : off, std::stoull(r.f[1]),
                static_cast<uint8_t>(std::stoi(r.f[2])));
      maps_.push_back(std::stoull(r.f[4]));
      enc_.fill(static_cast<uint8_t>(maps_.size() - 1), static_cast<uint8_t>(maps_.size()));
      ops += 2;
    } else if (r.kind == "munmap") {
      auto it = std::find(maps_.begin(), maps_.end(), std::stoull(r.f[0]));
      if (it == maps_.end()) return;
      ticks_to(r.us);
      enc_.munmap(static_cast<uint8_t>(it - maps_.begin()));
      maps_.erase(it);
      ++ops;
    } else if (r.kind == "ioctl") {
      ioctl(r, file);
    }
  }

  void ioctl(const Record& r, uint8_t file) {
    const auto cmd = static_cast<uint32_t>(std::stoul(r.f[0]));
    const uint64_t addr = std::stoull(r.f[1]);
    std::vector<uint8_t> in = unhex(r.f[3]);
    const std::vector<uint8_t> out = unhex(r.f[4]);
    if (in.size() != _IOC_SIZE(cmd)) {  // the client's argument was unreadable
      ++dropped;
      return;
    }
    // The ranges the call touched, merged, laid out in the arena.
    std::vector<Region> regions;
    if (!in.empty()) regions.push_back({addr, addr + in.size()});
    for (const Mem& m : r.mem) regions.push_back({m.addr, m.addr + m.data.size()});
    std::sort(regions.begin(), regions.end(), [](const Region& a, const Region& b) { return a.start < b.start; });
    std::vector<Region> merged;
    for (const Region& g : regions) {
      if (!merged.empty() && g.start <= merged.back().end) merged.back().end = std::max(merged.back().end, g.end);
      else merged.push_back(g);
    }
    uint64_t next = 64;
    for (Region& g : merged) {
      next += (g.start - next) & 7;  // same alignment mod 8 as in the client
      g.off = next;
      next += g.end - g.start + 64;
    }
    if (next > kArenaSize) {
      ++dropped;
      return;
    }
    auto relocate = [&](std::vector<uint8_t>& b) {
      for (std::size_t i = 0; i + 8 <= b.size(); i += 8) {
        uint64_t v;
        std::memcpy(&v, b.data() + i, 8);
        for (const Region& g : merged)
          if (v >= g.start && v < g.end) {
            v = tagged(static_cast<uint32_t>(g.off + (v - g.start)));
            std::memcpy(b.data() + i, &v, 8);
            break;
          }
      }
    };
    auto offset_of = [&](uint64_t a) {
      for (const Region& g : merged)
        if (a >= g.start && a < g.end) return g.off + (a - g.start);
      return uint64_t{0};
    };
    ticks_to(r.us);
    for (const Mem& m : r.mem) {
      if (!m.peek) continue;
      std::vector<uint8_t> d = m.data;
      relocate(d);
      enc_.poke(offset_of(m.addr), d.data(), d.size());
      ++ops;
    }
    relocate(in);
    const uint64_t arg_off = in.empty() ? 64 : offset_of(addr);
    const int row = udrm::fuzz::ioctl_row_of(cmd);
    if (row >= 0 && row < udrm::fuzz::kRawCmd) enc_.ioctl_row(file, static_cast<uint8_t>(row), arg_off, in.data(), in.size());
    else enc_.ioctl_raw(file, cmd, arg_off, in.data(), in.size());
    ++ioctls;
    ++ops;
    if (cmd == DRM_IOCTL_MODE_MAP_DUMB && std::stoi(r.f[2]) == 0 && out.size() == sizeof(drm_mode_map_dumb)) {
      drm_mode_map_dumb a;
      std::memcpy(&a, out.data(), sizeof(a));
      last_map_offset_[r.conn] = a.offset;
    }
  }

  Encoder enc_;
  bool soc_;
  std::size_t max_;
  bool stopped_ = false;
  uint64_t last_us_ = 0;
  int state_[kMaxFiles] = {};  // 0 empty, 1 open, 2 closed
  std::map<uint64_t, int> slot_;
  std::map<uint64_t, uint64_t> last_map_offset_;
  std::vector<uint64_t> maps_;  // remote mapping ids in the harness's mapping order
};

int usage() {
  std::fputs("usage: udrm_fuzz_trace2corpus --driver simple|soc [--max-bytes N] LOG OUT\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  bool have_driver = false;
  std::size_t max_bytes = 16000;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--driver" && i + 1 < argc) {
      std::string d = argv[++i];
      if (d != "simple" && d != "soc") return usage();
      cfg.soc = d == "soc";
      have_driver = true;
    } else if (a == "--max-bytes" && i + 1 < argc) {
      max_bytes = std::strtoul(argv[++i], nullptr, 10);
    } else {
      pos.push_back(a);
    }
  }
  if (!have_driver || pos.size() != 2) return usage();
  std::ifstream in(pos[0]);
  if (!in) {
    std::fprintf(stderr, "udrm_fuzz_trace2corpus: cannot read %s\n", pos[0].c_str());
    return 1;
  }
  Converter conv(cfg, max_bytes);
  Record cur;
  bool have = false;
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    std::istringstream ws(line);
    if (line.rfind(" peek ", 0) == 0 || line.rfind(" poke ", 0) == 0) {
      std::string kind, addr, data;
      ws >> kind >> addr >> data;
      if (have) cur.mem.push_back(Mem{kind == "peek", std::stoull(addr), unhex(data)});
      continue;
    }
    if (have) conv.add(cur);
    cur = Record{};
    have = static_cast<bool>(ws >> cur.us >> cur.conn >> cur.kind);
    for (std::string w; ws >> w;) cur.f.push_back(w);
  }
  if (have) conv.add(cur);
  const std::vector<uint8_t>& out = conv.bytes();
  std::ofstream o(pos[1], std::ios::binary);
  o.write(reinterpret_cast<const char*>(out.data()), static_cast<std::streamsize>(out.size()));
  if (!o) {
    std::fprintf(stderr, "udrm_fuzz_trace2corpus: cannot write %s\n", pos[1].c_str());
    return 1;
  }
  std::printf("%s: %d log lines -> %zu bytes, %d ops, %d ioctls (%d dropped)%s\n", pos[1].c_str(), lines, out.size(),
              conv.ops, conv.ioctls, conv.dropped, conv.truncated() ? ", truncated at --max-bytes" : "");
  return 0;
}
