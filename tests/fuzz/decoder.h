// tests/fuzz/decoder.h — the fuzz input format: a byte string read as a sequence of operations
// on one reference display (open/close files, ioctls whose argument sits in a bounded arena,
// mappings of dumb buffers, event reads, unbind/rebind/remove/rescan, vblank ticks), and the
// writer that produces such strings (the trace converter, tests).
//
// Format (docs/reliability.md, "Fuzzing", has the same in prose):
//   byte 0        config: bit 0 driver (0 udrm-simple, 1 udrm-soc); bit 1 soc: HDMI unplugged
//   then ops      opcode byte (value % kOpCount) followed by the op's fields:
//     open    type                 type & 1: render node, else primary
//     close   file
//     ioctl   file cmdsel [raw32] ptrmode [ptr] len(varint) bytes[len]
//             cmdsel 0xff: a raw u32 command follows (LE); else row cmdsel % rows of
//             drm_ioctl_table(). ptrmode % 4: 0 arena offset (varint) follows; 1 null;
//             2 the argument ends one byte past the arena; 3 a raw u64 pointer follows (LE).
//     poke    off(varint) len(varint) bytes[len]      arena data for nested pointers
//     mmap    file off(varint) len(varint) prot       off 0: the file's last MAP_DUMB offset;
//                                                     len 0: that buffer's size
//     munmap  map
//     fill    map seed                                write a pattern into a writable mapping
//     read    file len(varint) off(varint)            non-blocking read into the arena
//     unbind  dev   rebind dev   remove   rescan      dev % device_names()
//     tick    ms                                      sleep ms + 1 of virtual time
//   File and mapping selectors are taken modulo the slots (kMaxFiles, live mappings). Every
//   byte string decodes: a truncated last op is dropped. u64 fields of an ioctl argument or of
//   poked data whose high 32 bits are kPtrTag are relocated to arena base + the low 32 bits
//   (8-byte steps from the start of the bytes), so nested pointers reach the arena.
//
// Lifetime: a Decoder reads a caller-owned buffer that must outlive it and the Ops it returns
// (Op::data points into it). Context: any thread; no shared state.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace udrm::fuzz {

constexpr std::size_t kArenaSize = 64 * 1024;   // every user pointer outside it is -EFAULT
constexpr uint64_t kPtrTag = 0x75647266;         // 'udrf': a relocated pointer's high half
constexpr unsigned kMaxFiles = 8;
constexpr unsigned kMaxMaps = 16;
constexpr std::size_t kMaxOps = 4096;
constexpr uint8_t kRawCmd = 0xff;

enum class OpKind : uint8_t { open, close, ioctl, poke, mmap, munmap, fill, read, unbind, rebind, remove, rescan, tick };
constexpr unsigned kOpCount = 13;

enum class PtrMode : uint8_t { arena, null, arena_end, raw };

struct Config {
  bool soc = false;
  bool hdmi_unplugged = false;
};

struct Op {
  OpKind kind = OpKind::tick;
  uint8_t file = 0;          // open: type; unbind/rebind: device; munmap/fill: mapping
  uint8_t seed = 0;          // fill: pattern seed; mmap: prot; tick: ms - 1
  uint8_t cmdsel = 0;        // ioctl: table row, or kRawCmd
  uint32_t raw_cmd = 0;      // ioctl with kRawCmd
  PtrMode ptr = PtrMode::arena;
  uint64_t ptr_value = 0;    // ioctl: arena offset (arena) or pointer (raw)
  uint64_t off = 0;          // poke/read: arena offset; mmap: fake offset
  uint64_t len = 0;          // read/mmap: length
  const uint8_t* data = nullptr;  // ioctl argument / poke bytes (inside the input)
  std::size_t data_len = 0;
};

class Decoder {
 public:
  Decoder(const uint8_t* p, std::size_t n) : p_(p), end_(p + n) {}
  /// The config byte (an empty input is simple, defaults).
  Config config();
  /// The next complete op; false at the end of the input.
  bool next(Op* op);

 private:
  bool byte(uint8_t* v);
  bool varint(uint64_t* v);
  bool u32le(uint32_t* v);
  bool u64le(uint64_t* v);
  bool bytes(std::size_t n, const uint8_t** out);
  const uint8_t* p_;
  const uint8_t* end_;
};

/// Writes inputs in the format above.
class Encoder {
 public:
  explicit Encoder(Config c);
  void open(bool render);
  void close(uint8_t file);
  /// An ioctl by table row (cmdsel < kRawCmd) with its argument at arena offset `off`.
  void ioctl_row(uint8_t file, uint8_t row, uint64_t off, const uint8_t* arg, std::size_t len);
  void ioctl_raw(uint8_t file, uint32_t cmd, uint64_t off, const uint8_t* arg, std::size_t len);
  void poke(uint64_t off, const uint8_t* data, std::size_t len);
  void mmap(uint8_t file, uint64_t off, uint64_t len, uint8_t prot);
  void munmap(uint8_t map);
  void fill(uint8_t map, uint8_t seed);
  void read(uint8_t file, uint64_t len, uint64_t off);
  void unbind(uint8_t dev);
  void rebind(uint8_t dev);
  void remove();
  void rescan();
  void tick(unsigned ms);  // 1..256
  const std::vector<uint8_t>& bytes() const { return out_; }
  std::size_t size() const { return out_.size(); }
  /// Drop everything after the first n bytes (n at an op boundary).
  void truncate(std::size_t n) { out_.resize(n < 1 ? 1 : n); }

 private:
  void op(OpKind k) { out_.push_back(static_cast<uint8_t>(k)); }
  void varint(uint64_t v);
  void ioctl_arg(uint64_t off, const uint8_t* arg, std::size_t len);
  std::vector<uint8_t> out_;
};

/// A pointer to arena offset `off`, as the harness relocates it.
constexpr uint64_t tagged(uint32_t off) { return (kPtrTag << 32) | off; }

}  // namespace udrm::fuzz
