// udrm_fuzz_ioctl: the ioctl fuzz harness (harness.h) in two builds of the same source.
//
// With UDRM_LIBFUZZER (cmake -DUDRM_FUZZ=ON, clang): libFuzzer's entry points; libFuzzer's own
// main takes the corpus directories and options. Otherwise: a replay program,
//   udrm_fuzz_ioctl [--require-kms] [--random N [--save-random DIR]] FILE|DIR...
// runs every file given (directories: every regular file in them, sorted), prints a summary, and
// exits non-zero when there was nothing to run or, with --require-kms, when no modeset, flip and
// event read succeeded over all inputs (a corpus that stopped reaching the display). --random N
// also runs N pseudo-random inputs (fixed seed), a smoke test without libFuzzer (--save-random
// writes each to DIR first, to replay one alone). An oracle
// failure aborts, as under libFuzzer.
#include <cstddef>
#include <cstdint>

#include "decoder.h"
#include "harness.h"
#include "oracle.h"

#ifdef UDRM_LIBFUZZER

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  udrm::fuzz::init();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  udrm::fuzz::run_input(data, size);
  return 0;
}

#else

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

bool read_file(const fs::path& p, std::vector<uint8_t>* out) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

// A structured pseudo-random input: files opened first, then mostly ioctls whose u64 fields are
// often arena pointers, small counts or ids, with the other ops mixed in.
std::vector<uint8_t> random_input(std::mt19937_64& rng) {
  using namespace udrm::fuzz;
  Encoder e(Config{(rng() & 1) != 0, (rng() % 8) == 0});
  e.open(false);
  if (rng() & 1) e.open(rng() & 1);
  const unsigned rows = ioctl_rows();
  for (unsigned n = rng() % 200; n > 0; --n) {
    const unsigned what = rng() % 100;
    const auto file = static_cast<uint8_t>(rng() % 3);
    if (what < 70) {
      std::vector<uint8_t> arg(rng() % 2 ? 128 : rng() % 512);
      for (std::size_t k = 0; k + 8 <= arg.size(); k += 8) {
        uint64_t v = rng();
        switch (rng() % 4) {
          case 0: v = tagged(static_cast<uint32_t>(rng() % kArenaSize)); break;
          case 1: v = rng() % 8; break;
          case 2: v = (rng() % 64) | (uint64_t{rng() % 64} << 32); break;
          default: break;
        }
        std::memcpy(arg.data() + k, &v, 8);
      }
      const uint64_t off = rng() % kArenaSize;
      if (rng() % 16) e.ioctl_row(file, static_cast<uint8_t>(rng() % rows), off, arg.data(), arg.size());
      else e.ioctl_raw(file, static_cast<uint32_t>(rng()), off, arg.data(), arg.size());
    } else if (what < 78) {
      std::vector<uint8_t> d(rng() % 256);
      for (auto& b : d) b = static_cast<uint8_t>(rng() % 4 ? rng() % 64 : rng());
      e.poke(rng() % kArenaSize, d.data(), d.size());
    } else if (what < 86) {
      e.tick(1 + rng() % 40);
    } else if (what < 89) {
      e.read(file, rng() % 512, rng() % kArenaSize);
    } else if (what < 91) {
      e.mmap(file, 0, 0, static_cast<uint8_t>(rng() % 4));
    } else if (what < 92) {
      e.fill(static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng()));
    } else if (what < 93) {
      e.munmap(static_cast<uint8_t>(rng()));
    } else if (what < 95) {
      e.open(rng() % 4 == 0);
    } else if (what < 96) {
      e.close(file);
    } else if (what < 97) {
      e.unbind(static_cast<uint8_t>(rng()));
    } else if (what < 98) {
      e.rebind(static_cast<uint8_t>(rng()));
    } else if (what < 99) {
      e.remove();
    } else {
      e.rescan();
    }
  }
  return e.bytes();
}

int usage() {
  std::fputs("usage: udrm_fuzz_ioctl [--require-kms] [--random N [--save-random DIR]] FILE|DIR...\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  udrm::fuzz::init();
  bool require_kms = false;
  unsigned long random_inputs = 0;
  std::string save_dir;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--require-kms") {
      require_kms = true;
    } else if (a == "--random" && i + 1 < argc) {
      random_inputs = std::strtoul(argv[++i], nullptr, 10);
    } else if (a == "--save-random" && i + 1 < argc) {
      save_dir = argv[++i];
    } else if (a.rfind("-", 0) == 0) {
      return usage();
    } else if (fs::is_directory(a)) {
      std::vector<fs::path> in_dir;
      for (const auto& e : fs::directory_iterator(a))
        if (e.is_regular_file()) in_dir.push_back(e.path());
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::is_regular_file(a)) {
      files.emplace_back(a);
    } else {
      std::fprintf(stderr, "udrm_fuzz_ioctl: no such file or directory: %s\n", a.c_str());
      return 2;
    }
  }
  if (files.empty() && random_inputs == 0) {
    std::fputs("udrm_fuzz_ioctl: no inputs\n", stderr);
    return usage();
  }
  for (const auto& f : files) {
    std::vector<uint8_t> data;
    if (!read_file(f, &data)) {
      std::fprintf(stderr, "udrm_fuzz_ioctl: cannot read %s\n", f.c_str());
      return 1;
    }
    std::fprintf(stderr, "udrm_fuzz_ioctl: %s (%zu bytes)\n", f.c_str(), data.size());
    udrm::fuzz::run_input(data.data(), data.size());
  }
  std::mt19937_64 rng(20240601);
  for (unsigned long n = 0; n < random_inputs; ++n) {
    std::vector<uint8_t> data = random_input(rng);
    if (!save_dir.empty()) {
      std::ofstream(save_dir + "/random-" + std::to_string(n), std::ios::binary)
          .write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    }
    udrm::fuzz::run_input(data.data(), data.size());
  }
  const auto& s = udrm::fuzz::stats();
  std::printf("udrm_fuzz_ioctl: %llu inputs, %llu ops, %llu ioctls (%llu ok), %llu modesets, %llu flips, "
              "%llu event bytes read, %llu mappings, %llu unbinds\n",
              static_cast<unsigned long long>(s.inputs), static_cast<unsigned long long>(s.ops),
              static_cast<unsigned long long>(s.ioctls), static_cast<unsigned long long>(s.ioctls_ok),
              static_cast<unsigned long long>(s.modesets_ok), static_cast<unsigned long long>(s.flips_ok),
              static_cast<unsigned long long>(s.event_bytes), static_cast<unsigned long long>(s.maps_ok),
              static_cast<unsigned long long>(s.unbinds));
  std::printf("udrm_fuzz_ioctl: errnos:");
  for (const auto& [e, n] : s.errnos) std::printf(" %s=%llu", std::strerror(e), static_cast<unsigned long long>(n));
  std::printf("\n");
  if (require_kms && (s.modesets_ok == 0 || s.flips_ok == 0 || s.event_bytes == 0)) {
    std::fputs("udrm_fuzz_ioctl: --require-kms: the inputs never reached a modeset, a flip and an event read\n",
               stderr);
    return 1;
  }
  return 0;
}

#endif
