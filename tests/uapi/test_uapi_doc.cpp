// docs/uapi.md against the code: every row of the ioctl table (drm_ioctl_table) is listed once
// in the doc's tables, every listed ioctl exists, the flags and impl columns match, and the
// errnos the doc states are probed: every legacy / not-implemented / stub / no-op row with a
// zeroed argument, the common checks (unplugged, type, number, render node), and a set of
// representative "bad input → errno" phrases of implemented rows (the errno is read from the
// doc's phrase, so an edit of either side without the other fails).
#include <sys/ioctl.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "uapi_fixture.h"

namespace udrm::uapi {
namespace {

std::string doc_path() {
#ifdef UDRM_UAPI_DOC
  if (std::filesystem::exists(UDRM_UAPI_DOC)) return UDRM_UAPI_DOC;
#endif
  if (const char* e = std::getenv("UDRM_UAPI_DOC")) return e;
  // tests/uapi/<this file> → docs/uapi.md (when __FILE__ is absolute).
  return (std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "docs" / "uapi.md").string();
}

std::string trim(const std::string& s) {
  auto a = s.find_first_not_of(" \t");
  auto b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(trim(cur));
  return out;
}

struct DocRow {
  std::string names_cell, flags, impl, behaviour;
  std::vector<std::string> names;  // expanded
  int line = 0;
};

struct Doc {
  bool ok = false;
  std::string text;
  std::vector<DocRow> rows;                      // the ioctl tables (Core, KMS)
  std::map<std::string, std::string> common;    // "Checks common to every ioctl": check → errno
};

const IoctlDesc* find_desc(const std::string& name, std::size_t* index = nullptr) {
  std::size_t n = 0;
  const IoctlDesc* t = drm_ioctl_table(&n);
  for (std::size_t i = 0; i < n; ++i)
    if (name == t[i].name) {
      if (index) *index = i;
      return &t[i];
    }
  return nullptr;
}

// "A, B … D, E" → A, B, C, D, E (a range in table order).
::testing::AssertionResult expand(DocRow* r) {
  std::size_t n = 0;
  const IoctlDesc* t = drm_ioctl_table(&n);
  for (const std::string& item : split(r->names_cell, ',')) {
    const std::string ell = "…";
    auto e = item.find(ell);
    if (e == std::string::npos) {
      r->names.push_back(item);
      continue;
    }
    std::string from = trim(item.substr(0, e)), to = trim(item.substr(e + ell.size()));
    std::size_t a = 0, b = 0;
    if (!find_desc(from, &a) || !find_desc(to, &b) || b < a)
      return ::testing::AssertionFailure() << "docs/uapi.md:" << r->line << ": bad range '" << item << "'";
    for (std::size_t i = a; i <= b; ++i) r->names.push_back(t[i].name);
  }
  return ::testing::AssertionSuccess();
}

const Doc& doc() {
  static Doc d = [] {
    Doc d;
    std::ifstream f(doc_path());
    if (!f) return d;
    std::stringstream ss;
    ss << f.rdbuf();
    d.text = ss.str();
    std::istringstream in(d.text);
    enum { none, common, ioctls } table = none;
    int lineno = 0;
    for (std::string line; std::getline(in, line);) {
      ++lineno;
      if (line.rfind("|", 0) != 0) {
        table = none;
        continue;
      }
      std::vector<std::string> cells = split(line.substr(1, line.size() - 2), '|');
      if (cells.empty() || cells[0].rfind("---", 0) == 0) continue;
      if (cells[0] == "check" && cells.size() == 2) {
        table = common;
        continue;
      }
      if (cells[0] == "ioctl" && cells.size() == 4) {
        table = ioctls;
        continue;
      }
      if (table == common && cells.size() == 2) d.common[cells[0]] = cells[1];
      if (table == ioctls && cells.size() == 4) {
        DocRow r{cells[0], cells[1], cells[2], cells[3], {}, lineno};
        if (!expand(&r)) return d;
        d.rows.push_back(std::move(r));
      }
    }
    d.ok = true;
    return d;
  }();
  return d;
}

const DocRow* row_of(const std::string& name) {
  for (const DocRow& r : doc().rows)
    if (std::find(r.names.begin(), r.names.end(), name) != r.names.end()) return &r;
  return nullptr;
}

// The errno of a "`-EXXX`" token (0 for "0"), or 1 if there is none.
int errno_of(const std::string& s) {
  static const std::map<std::string, int> k = {
      {"EINVAL", EINVAL}, {"ENOENT", ENOENT},   {"EACCES", EACCES}, {"ENODEV", ENODEV}, {"ENOTTY", ENOTTY},
      {"EFAULT", EFAULT}, {"EOPNOTSUPP", EOPNOTSUPP}, {"ENOSYS", ENOSYS}, {"EBUSY", EBUSY}, {"EPERM", EPERM},
      {"ERANGE", ERANGE}, {"ENOSPC", ENOSPC}, {"ENOMEM", ENOMEM}, {"EBADF", EBADF},   {"EINTR", EINTR},
      {"ENXIO", ENXIO}};
  std::smatch m;
  static const std::regex re("`-(E[A-Z]+)`");
  if (std::regex_search(s, m, re)) {
    auto it = k.find(m[1].str());
    return it == k.end() ? 1 : -it->second;
  }
  if (trim(s).rfind("0", 0) == 0) return 0;
  return 1;
}

uint32_t flags_of(const std::string& cell, bool* various) {
  *various = cell == "various";
  uint32_t f = 0;
  if (cell == "—" || *various) return 0;
  for (const std::string& w : split(cell, ' ')) {
    if (w == "A") f |= kIoctlAuth;
    else if (w == "M") f |= kIoctlMaster;
    else if (w == "R") f |= kIoctlRootOnly;
    else if (w == "RA") f |= kIoctlRenderAllow;
    else f |= 1u << 31;  // unknown token: never matches
  }
  return f;
}

TEST(UapiDoc, ParsesTheDoc) {
  ASSERT_TRUE(doc().ok) << "cannot read or parse " << doc_path();
  EXPECT_GE(doc().rows.size(), 40u);
  EXPECT_GE(doc().common.size(), 8u);
}

TEST(UapiDoc, EveryIoctlIsListedOnceAndEveryListedIoctlExists) {
  ASSERT_TRUE(doc().ok) << doc_path();
  std::map<std::string, int> listed;
  for (const DocRow& r : doc().rows)
    for (const std::string& n : r.names) {
      ++listed[n];
      EXPECT_TRUE(find_desc(n)) << "docs/uapi.md:" << r.line << " lists " << n << ", which drm_ioctl_table lacks";
    }
  std::size_t n = 0;
  const IoctlDesc* t = drm_ioctl_table(&n);
  ASSERT_GT(n, 0u);
  for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(listed[t[i].name], 1) << t[i].name << " listed in docs/uapi.md";
}

// "in number order": the rows follow the table (a group's first ioctl decides its place).
TEST(UapiDoc, RowsAreInNumberOrder) {
  ASSERT_TRUE(doc().ok) << doc_path();
  std::size_t last = 0;
  for (const DocRow& r : doc().rows) {
    std::size_t i = 0;
    if (r.names.empty() || !find_desc(r.names[0], &i)) continue;
    EXPECT_GE(i, last) << "docs/uapi.md:" << r.line << " (" << r.names[0] << ") is out of number order";
    last = i;
  }
}

TEST(UapiDoc, FlagsAndImplColumnsMatchTheTable) {
  ASSERT_TRUE(doc().ok) << doc_path();
  const std::map<std::string, bool> impl = {{"yes", true},     {"no-op", true}, {"stub", true},
                                            {"legacy", false}, {"—", false}};
  for (const DocRow& r : doc().rows) {
    auto it = impl.find(r.impl);
    ASSERT_NE(it, impl.end()) << "docs/uapi.md:" << r.line << ": impl '" << r.impl << "'";
    bool various = false;
    const uint32_t want = flags_of(r.flags, &various);
    std::set<uint32_t> seen;
    for (const std::string& n : r.names) {
      const IoctlDesc* d = find_desc(n);
      if (!d) continue;  // reported above
      EXPECT_EQ(d->implemented, it->second) << n << " (docs/uapi.md:" << r.line << " says " << r.impl << ")";
      if (!various) {
        EXPECT_EQ(d->flags, want) << n << " flags (docs/uapi.md:" << r.line << " says " << r.flags << ")";
      }
      seen.insert(d->flags);
    }
    if (various) {
      EXPECT_GT(seen.size(), 1u) << "docs/uapi.md:" << r.line << " says 'various' but the flags are equal";
    }
  }
}

using UapiDocProbe = Uapi;

// Rows the doc gives one errno for any input (legacy, not implemented, stubs) or 0 (no-ops):
// each ioctl of them, zeroed argument, from the master.
TEST_P(UapiDocProbe, FixedResultRowsReturnWhatTheDocSays) {
  ASSERT_TRUE(doc().ok) << doc_path();
  run([&](drivers::Display& d) {
    auto c = open(d);
    ASSERT_TRUE(c);
    int probed = 0;
    for (const DocRow& r : doc().rows) {
      if (r.impl == "yes") continue;
      const int want = errno_of(r.behaviour);
      ASSERT_NE(want, 1) << "docs/uapi.md:" << r.line << ": no errno in '" << r.behaviour << "'";
      for (const std::string& n : r.names) {
        const IoctlDesc* desc = find_desc(n);
        if (!desc) continue;
        alignas(8) uint8_t arg[512] = {};
        ASSERT_LE(_IOC_SIZE(desc->cmd), sizeof(arg)) << n;
        EXPECT_EQ(c->ioctl(desc->cmd, arg), want) << n << " (docs/uapi.md:" << r.line << ")";
        ++probed;
      }
    }
    EXPECT_GE(probed, 40);
  });
}

// The checks common to every ioctl, as the doc lists them.
TEST_P(UapiDocProbe, CommonChecks) {
  ASSERT_TRUE(doc().ok) << doc_path();
  auto want = [](const std::string& check_prefix) {
    for (const auto& [check, err] : doc().common)
      if (check.rfind(check_prefix, 0) == 0) return errno_of(err);
    ADD_FAILURE() << "docs/uapi.md has no common check starting '" << check_prefix << "'";
    return 1;
  };
  run([&](drivers::Display& d) {
    auto c = open(d);
    ASSERT_TRUE(c);
    uint32_t arg[16] = {};
    EXPECT_EQ(c->ioctl(_IOWR('x', 0x00, drm_version), arg), want("ioctl type is not"));
    EXPECT_EQ(c->ioctl(DRM_IO(DRM_COMMAND_BASE), arg), want("driver-private number"));
    EXPECT_EQ(c->ioctl(_IOWR('d', 0xff, uint32_t[4]), arg), want("driver-private number"));  // unknown number
    EXPECT_EQ(c->ioctl(DRM_IOCTL_VERSION, reinterpret_cast<void*>(uintptr_t{16})), want("argument copy-in fault"));
    if (d.kind() == Kind::simple) {  // only udrm-simple has a render node
      auto rnd = open(d, MinorType::render);
      ASSERT_TRUE(rnd);
      drm_mode_card_res res{};
      EXPECT_EQ(rnd->ioctl(DRM_IOCTL_MODE_GETRESOURCES, &res), want("render node and no"));
      drm_version v{};
      EXPECT_EQ(rnd->ioctl(DRM_IOCTL_VERSION, &v), 0);
    }
    auto other = open(d);  // not the master
    ASSERT_TRUE(other);
    drm_mode_crtc crtc{};
    EXPECT_EQ(other->ioctl(DRM_IOCTL_MODE_SETCRTC, &crtc), want("`DRM_MASTER` and not"));
    auto closed = open(d);
    ASSERT_TRUE(closed);
    ASSERT_EQ(closed->close(), 0);
    drm_version cv{};
    EXPECT_EQ(closed->ioctl(DRM_IOCTL_VERSION, &cv), want("file closed"));
    ASSERT_EQ(d.unbind(), 0);
    EXPECT_EQ(c->ioctl(_IOWR('x', 0x00, drm_version), arg), want("device unplugged"));  // before the type check
    drm_version v{};
    EXPECT_EQ(c->ioctl(DRM_IOCTL_VERSION, &v), want("device unplugged"));
  });
}

// Representative "bad input → errno" phrases of implemented rows: the phrase must be in the
// row's cell, and the probe must return the errno the phrase names.
TEST_P(UapiDocProbe, RepresentativeErrnosOfImplementedRows) {
  ASSERT_TRUE(doc().ok) << doc_path();
  struct Probe {
    const char* ioctl;
    const char* phrase;
    std::function<int(KmsClient&)> call;
  };
  const std::vector<Probe> probes = {
      {"GET_CLIENT", "`idx != 0` → `-EINVAL`",
       [](KmsClient& c) {
         drm_client a{};
         a.idx = 1;
         return c.ioctl(DRM_IOCTL_GET_CLIENT, &a);
       }},
      {"SET_VERSION", "`di_major != 1` or `di_minor ∉ [0,4]` → `-EINVAL`",
       [](KmsClient& c) {
         drm_set_version a{};
         a.drm_di_major = 2;
         a.drm_dd_major = -1;
         return c.ioctl(DRM_IOCTL_SET_VERSION, &a);
       }},
      {"GEM_CLOSE", "unknown handle → `-EINVAL`",
       [](KmsClient& c) {
         drm_gem_close a{};
         a.handle = 0x7777;
         return c.ioctl(DRM_IOCTL_GEM_CLOSE, &a);
       }},
      {"GET_CAP", "unknown cap → `-EINVAL`",
       [](KmsClient& c) {
         drm_get_cap a{};
         a.capability = 0xffff;
         return c.ioctl(DRM_IOCTL_GET_CAP, &a);
       }},
      {"SET_CLIENT_CAP", "unknown → `-EINVAL`",
       [](KmsClient& c) {
         drm_set_client_cap a{};
         a.capability = 0xffff;
         a.value = 1;
         return c.ioctl(DRM_IOCTL_SET_CLIENT_CAP, &a);
       }},
      {"MODE_GETCRTC", "unknown CRTC → `-ENOENT`",
       [](KmsClient& c) {
         drm_mode_crtc a{};
         a.crtc_id = 0x7777;
         return c.ioctl(DRM_IOCTL_MODE_GETCRTC, &a);
       }},
      {"MODE_GETENCODER", "unknown encoder → `-ENOENT`",
       [](KmsClient& c) {
         drm_mode_get_encoder a{};
         a.encoder_id = 0x7777;
         return c.ioctl(DRM_IOCTL_MODE_GETENCODER, &a);
       }},
      {"MODE_GETCONNECTOR", "unknown connector → `-ENOENT`",
       [](KmsClient& c) {
         drm_mode_get_connector a{};
         a.connector_id = 0x7777;
         return c.ioctl(DRM_IOCTL_MODE_GETCONNECTOR, &a);
       }},
      {"MODE_GETPROPERTY", "unknown property → `-ENOENT`",
       [](KmsClient& c) {
         drm_mode_get_property a{};
         a.prop_id = 0x7777;
         return c.ioctl(DRM_IOCTL_MODE_GETPROPERTY, &a);
       }},
      {"MODE_GETPROPBLOB", "unknown blob → `-ENOENT`",
       [](KmsClient& c) {
         drm_mode_get_blob a{};
         a.blob_id = 0x7777;
         return c.ioctl(DRM_IOCTL_MODE_GETPROPBLOB, &a);
       }},
      {"MODE_RMFB", "unknown fb or another file's → `-ENOENT`",
       [](KmsClient& c) {
         uint32_t fb = 0x7777;
         return c.ioctl(DRM_IOCTL_MODE_RMFB, &fb);
       }},
      {"MODE_PAGE_FLIP", "unknown flags → `-EINVAL`",
       [](KmsClient& c) {
         drm_mode_crtc_page_flip_target a{};
         a.flags = 0x80000000u;
         return c.ioctl(DRM_IOCTL_MODE_PAGE_FLIP, &a);
       }},
      {"MODE_CREATE_DUMB", "zero width/height/bpp or overflowing pitch/size → `-EINVAL`",
       [](KmsClient& c) {
         drm_mode_create_dumb a{};
         a.height = 16;
         a.bpp = 32;
         return c.ioctl(DRM_IOCTL_MODE_CREATE_DUMB, &a);
       }},
      {"MODE_MAP_DUMB", "unknown handle → `-ENOENT`",
       [](KmsClient& c) {
         drm_mode_map_dumb a{};
         a.handle = 0x7777;
         return c.ioctl(DRM_IOCTL_MODE_MAP_DUMB, &a);
       }},
      {"MODE_DESTROY_DUMB", "unknown handle → `-EINVAL`",
       [](KmsClient& c) {
         drm_mode_destroy_dumb a{};
         a.handle = 0x7777;
         return c.ioctl(DRM_IOCTL_MODE_DESTROY_DUMB, &a);
       }},
      {"MODE_GETPLANE", "unknown plane → `-ENOENT`",
       [](KmsClient& c) {
         drm_mode_get_plane a{};
         a.plane_id = 0x7777;
         return c.ioctl(DRM_IOCTL_MODE_GETPLANE, &a);
       }},
      {"MODE_OBJ_GETPROPERTIES", "unknown object or wrong type → `-ENOENT`",
       [](KmsClient& c) {
         drm_mode_obj_get_properties a{};
         a.obj_id = 0x7777;
         a.obj_type = DRM_MODE_OBJECT_CRTC;
         return c.ioctl(DRM_IOCTL_MODE_OBJ_GETPROPERTIES, &a);
       }},
      {"MODE_ATOMIC", "client without the ATOMIC cap → `-EINVAL`",
       [](KmsClient& c) {
         drm_mode_atomic a{};
         return c.ioctl(DRM_IOCTL_MODE_ATOMIC, &a);
       }},
      {"MODE_CREATEPROPBLOB", "length 0 or too large → `-EINVAL`",
       [](KmsClient& c) {
         drm_mode_create_blob a{};
         return c.ioctl(DRM_IOCTL_MODE_CREATEPROPBLOB, &a);
       }},
      {"MODE_DESTROYPROPBLOB", "unknown blob → `-ENOENT`",
       [](KmsClient& c) {
         drm_mode_destroy_blob a{};
         a.blob_id = 0x7777;
         return c.ioctl(DRM_IOCTL_MODE_DESTROYPROPBLOB, &a);
       }},
      {"DROP_MASTER", "not the master → `-EINVAL`", nullptr},  // probed by a second file below
  };
  run([&](drivers::Display& d) {
    auto c = open(d);
    ASSERT_TRUE(c);
    auto other = open(d);
    ASSERT_TRUE(other);
    for (const Probe& p : probes) {
      const DocRow* r = row_of(p.ioctl);
      ASSERT_TRUE(r) << p.ioctl;
      ASSERT_NE(r->behaviour.find(p.phrase), std::string::npos)
          << "docs/uapi.md:" << r->line << " (" << p.ioctl << ") no longer says: " << p.phrase;
      const int want = errno_of(p.phrase);
      ASSERT_LT(want, 0) << p.phrase;
      const int got = p.call ? p.call(*c) : other->ioctl(DRM_IOCTL_DROP_MASTER, nullptr);
      EXPECT_EQ(got, want) << p.ioctl << ": " << p.phrase << " (docs/uapi.md:" << r->line << ")";
    }
  });
}

UDRM_UAPI_INSTANTIATE(UapiDocProbe);

}  // namespace
}  // namespace udrm::uapi
