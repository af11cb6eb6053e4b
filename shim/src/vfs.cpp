// The served /dev/dri + /sys tree (vfs_internal.h).
#include "vfs_internal.h"

#include <sys/sysmacros.h>

#include <cerrno>
#include <cstring>
#include <string_view>

namespace udrm::shim::vfs {

namespace {

constexpr int kDrmMajor = 226;
constexpr std::string_view kDevDri = "/dev/dri";
constexpr std::string_view kSysChar = "/sys/dev/char/226:";

bool starts_with_dir(std::string_view p, std::string_view dir) {
  return p.substr(0, dir.size()) == dir && (p.size() == dir.size() || p[dir.size()] == '/');
}

/// Components of an absolute path: "//" and "." dropped, ".." pops (lexically).
std::vector<std::string> split(std::string_view p) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < p.size()) {
    while (i < p.size() && p[i] == '/') ++i;
    std::size_t j = i;
    while (j < p.size() && p[j] != '/') ++j;
    std::string_view c = p.substr(i, j - i);
    if (c == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!c.empty() && c != ".") {
      out.emplace_back(c);
    }
    i = j;
  }
  return out;
}

std::string join(const std::vector<std::string>& comps) {
  std::string s;
  for (const auto& c : comps) s += "/" + c;
  return s.empty() ? "/" : s;
}

Entry dir(std::vector<std::string> entries) {
  Entry e;
  e.type = Entry::dir;
  e.entries = std::move(entries);
  return e;
}
Entry reg(std::string text) {
  Entry e;
  e.type = Entry::reg;
  e.text = std::move(text);
  return e;
}
/// A symlink: reported as such when it is the last component and not followed, else as the
/// directory it points to.
Entry link(std::string target, bool last, bool follow, std::vector<std::string> dir_entries = {}) {
  if (last && !follow) {
    Entry e;
    e.type = Entry::lnk;
    e.text = std::move(target);
    return e;
  }
  return dir(std::move(dir_entries));
}

std::string minor_uevent(const NodeInfo& n) {
  return "MAJOR=226\nMINOR=" + std::to_string(n.minor) + "\nDEVNAME=dri/" + n.name + "\nDEVTYPE=drm_minor\n";
}
std::string device_uevent(const NodeInfo& n) {
  return "DRIVER=" + n.driver + "\nOF_NAME=" + n.devname + "\nOF_FULLNAME=/udrm/" + n.devname +
         "\nOF_COMPATIBLE_0=udrm," + n.driver + "\nOF_COMPATIBLE_N=1\nMODALIAS=of:N" + n.devname +
         "T(null)Cudrm," + n.driver + "\n";
}

/// The nodes of the same DRM device as n (its card and render node).
std::vector<std::string> siblings(const NodeInfo& n, const std::vector<NodeInfo>& all) {
  std::vector<std::string> out;
  for (const auto& o : all)
    if (o.devname == n.devname && o.driver == n.driver) out.push_back(o.name);
  return out;
}

/// /sys/dev/char/226:M/<rest...>
int sys_entry(const NodeInfo& n, const std::vector<NodeInfo>& all, const std::vector<std::string>& rest,
              bool follow, Entry* out) {
  const std::size_t k = rest.size();
  if (k == 0) {
    *out = link("../../devices/platform/" + n.devname + "/drm/" + n.name, true, follow,
                {"dev", "device", "subsystem", "uevent"});
    return 0;
  }
  const std::string& a = rest[0];
  if (a == "uevent" || a == "dev") {
    if (k > 1) return -ENOTDIR;
    *out = reg(a == "dev" ? "226:" + std::to_string(n.minor) + "\n" : minor_uevent(n));
    return 0;
  }
  if (a == "subsystem") {
    if (k > 1) return -ENOENT;
    *out = link("../../../../class/drm", true, follow);
    return 0;
  }
  if (a != "device") return -ENOENT;
  if (k == 1) {
    *out = link("../../../" + n.devname, true, follow, {"drm", "driver", "subsystem", "uevent"});
    return 0;
  }
  const std::string& b = rest[1];
  if (b == "uevent") {
    if (k > 2) return -ENOTDIR;
    *out = reg(device_uevent(n));
    return 0;
  }
  if (b == "subsystem" || b == "driver") {
    if (k > 2) return -ENOENT;
    *out = link(b == "subsystem" ? "../../../bus/platform" : "../../../bus/platform/drivers/" + n.driver, true,
                follow);
    return 0;
  }
  if (b != "drm") return -ENOENT;
  std::vector<std::string> sib = siblings(n, all);
  if (k == 2) {
    *out = dir(sib);
    return 0;
  }
  const NodeInfo* s = nullptr;
  for (const auto& o : all)
    if (o.name == rest[2] && o.devname == n.devname && o.driver == n.driver) s = &o;
  if (!s) return -ENOENT;
  if (k == 3) {
    *out = dir({"dev", "uevent"});
    return 0;
  }
  if (k > 4) return -ENOTDIR;
  if (rest[3] == "dev") *out = reg("226:" + std::to_string(s->minor) + "\n");
  else if (rest[3] == "uevent") *out = reg(minor_uevent(*s));
  else return -ENOENT;
  return 0;
}

}  // namespace

bool claims(const char* path) noexcept {
  if (!path || path[0] != '/') return false;
  std::string_view p(path);
  // Cheap reject of everything else before any allocation.
  if (p.size() < kDevDri.size() || (p[1] != 'd' && p[1] != 's')) return false;
  if (starts_with_dir(p, kDevDri)) return true;
  return p.substr(0, kSysChar.size()) == kSysChar;
}

int lookup(Backend& b, const char* path, bool follow, Entry* out) {
  if (!claims(path)) return -ENOENT;
  std::vector<std::string> c = split(path);
  std::vector<NodeInfo> all = b.nodes();
  int r = -ENOENT;
  if (c.size() >= 2 && c[0] == "dev" && c[1] == "dri") {
    if (c.size() == 2) {
      std::vector<std::string> names;
      for (const auto& n : all) names.push_back(n.name);
      *out = dir(std::move(names));
      r = 0;
    } else {
      for (const auto& n : all) {
        if (n.name != c[2]) continue;
        if (c.size() > 3) return -ENOTDIR;
        out->type = Entry::chr;
        out->minor = n.minor;
        r = 0;
      }
    }
  } else if (c.size() >= 4 && c[0] == "sys" && c[1] == "dev" && c[2] == "char" && c[3].rfind("226:", 0) == 0) {
    const std::string m = c[3].substr(4);
    if (m.empty() || m.size() > 3 || m.find_first_not_of("0123456789") != std::string::npos) return -ENOENT;
    const int minor = std::stoi(m);
    for (const auto& n : all) {
      if (n.minor != minor) continue;
      r = sys_entry(n, all, std::vector<std::string>(c.begin() + 4, c.end()), follow, out);
      break;
    }
  }
  if (r == 0) out->path = join(c);
  return r;
}

void fill_stat(const Entry& e, struct stat* st) {
  std::memset(st, 0, sizeof(*st));
  st->st_nlink = 1;
  st->st_blksize = 4096;
  switch (e.type) {
    case Entry::dir:
      st->st_mode = S_IFDIR | 0555;
      st->st_nlink = 2;
      break;
    case Entry::chr:
      fill_stat_node(e.minor, st);
      return;
    case Entry::reg:
      st->st_mode = S_IFREG | 0444;
      st->st_size = 4096;  // as sysfs reports attributes
      break;
    case Entry::lnk:
      st->st_mode = S_IFLNK | 0777;
      st->st_size = static_cast<off_t>(e.text.size());
      break;
  }
  st->st_dev = makedev(0, 21);  // a sysfs-like anonymous device
  st->st_ino = std::hash<std::string>{}(e.path) | 1;
}

void fill_stat_node(int minor, struct stat* st) {
  std::memset(st, 0, sizeof(*st));
  st->st_mode = S_IFCHR | 0666;
  st->st_nlink = 1;
  st->st_blksize = 4096;
  st->st_rdev = makedev(kDrmMajor, static_cast<unsigned>(minor));
  st->st_dev = makedev(0, 5);  // devtmpfs
  st->st_ino = 0x1000 + static_cast<ino_t>(minor);
}

}  // namespace udrm::shim::vfs
