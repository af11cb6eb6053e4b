// The fuzz input format (decoder.h): reader and writer.
#include "decoder.h"

namespace udrm::fuzz {

Config Decoder::config() {
  Config c;
  uint8_t b = 0;
  if (byte(&b)) {
    c.soc = b & 1;
    c.hdmi_unplugged = b & 2;
  }
  return c;
}

bool Decoder::byte(uint8_t* v) {
  if (p_ == end_) return false;
  *v = *p_++;
  return true;
}

// LEB128, at most 10 bytes (a longer run ends the value there).
bool Decoder::varint(uint64_t* v) {
  uint64_t r = 0;
  for (unsigned shift = 0; shift < 70; shift += 7) {
    uint8_t b;
    if (!byte(&b)) return false;
    if (shift < 64) r |= uint64_t{b & 0x7fu} << shift;
    if (!(b & 0x80)) break;
  }
  *v = r;
  return true;
}

bool Decoder::u32le(uint32_t* v) {
  const uint8_t* b;
  if (!bytes(4, &b)) return false;
  *v = uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
  return true;
}

bool Decoder::u64le(uint64_t* v) {
  const uint8_t* b;
  if (!bytes(8, &b)) return false;
  uint64_t r = 0;
  for (int i = 7; i >= 0; --i) r = r << 8 | b[i];
  *v = r;
  return true;
}

bool Decoder::bytes(std::size_t n, const uint8_t** out) {
  if (static_cast<std::size_t>(end_ - p_) < n) return false;
  *out = p_;
  p_ += n;
  return true;
}

bool Decoder::next(Op* op) {
  uint8_t code;
  if (!byte(&code)) return false;
  *op = Op{};
  op->kind = static_cast<OpKind>(code % kOpCount);
  switch (op->kind) {
    case OpKind::open:
    case OpKind::close:
    case OpKind::munmap:
    case OpKind::unbind:
    case OpKind::rebind:
      return byte(&op->file);
    case OpKind::tick:
      return byte(&op->seed);
    case OpKind::fill:
      return byte(&op->file) && byte(&op->seed);
    case OpKind::remove:
    case OpKind::rescan:
      return true;
    case OpKind::ioctl: {
      if (!byte(&op->file) || !byte(&op->cmdsel)) return false;
      if (op->cmdsel == kRawCmd && !u32le(&op->raw_cmd)) return false;
      uint8_t mode;
      if (!byte(&mode)) return false;
      op->ptr = static_cast<PtrMode>(mode % 4);
      if (op->ptr == PtrMode::arena && !varint(&op->ptr_value)) return false;
      if (op->ptr == PtrMode::raw && !u64le(&op->ptr_value)) return false;
      uint64_t len;
      if (!varint(&len) || len > kArenaSize) return false;
      op->data_len = static_cast<std::size_t>(len);
      return bytes(op->data_len, &op->data);
    }
    case OpKind::poke: {
      uint64_t len;
      if (!varint(&op->off) || !varint(&len) || len > kArenaSize) return false;
      op->data_len = static_cast<std::size_t>(len);
      return bytes(op->data_len, &op->data);
    }
    case OpKind::mmap:
      return byte(&op->file) && varint(&op->off) && varint(&op->len) && byte(&op->seed);
    case OpKind::read:
      return byte(&op->file) && varint(&op->len) && varint(&op->off);
  }
  return false;
}

Encoder::Encoder(Config c) { out_.push_back(static_cast<uint8_t>((c.soc ? 1 : 0) | (c.hdmi_unplugged ? 2 : 0))); }

void Encoder::varint(uint64_t v) {
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    out_.push_back(v ? (b | 0x80) : b);
  } while (v);
}

void Encoder::open(bool render) {
  op(OpKind::open);
  out_.push_back(render ? 1 : 0);
}

void Encoder::close(uint8_t file) {
  op(OpKind::close);
  out_.push_back(file);
}

void Encoder::ioctl_arg(uint64_t off, const uint8_t* arg, std::size_t len) {
  out_.push_back(static_cast<uint8_t>(PtrMode::arena));
  varint(off);
  varint(len);
  out_.insert(out_.end(), arg, arg + len);
}

void Encoder::ioctl_row(uint8_t file, uint8_t row, uint64_t off, const uint8_t* arg, std::size_t len) {
  op(OpKind::ioctl);
  out_.push_back(file);
  out_.push_back(row);
  ioctl_arg(off, arg, len);
}

void Encoder::ioctl_raw(uint8_t file, uint32_t cmd, uint64_t off, const uint8_t* arg, std::size_t len) {
  op(OpKind::ioctl);
  out_.push_back(file);
  out_.push_back(kRawCmd);
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(cmd >> (8 * i)));
  ioctl_arg(off, arg, len);
}

void Encoder::poke(uint64_t off, const uint8_t* data, std::size_t len) {
  op(OpKind::poke);
  varint(off);
  varint(len);
  out_.insert(out_.end(), data, data + len);
}

void Encoder::mmap(uint8_t file, uint64_t off, uint64_t len, uint8_t prot) {
  op(OpKind::mmap);
  out_.push_back(file);
  varint(off);
  varint(len);
  out_.push_back(prot);
}

void Encoder::munmap(uint8_t map) {
  op(OpKind::munmap);
  out_.push_back(map);
}

void Encoder::fill(uint8_t map, uint8_t seed) {
  op(OpKind::fill);
  out_.push_back(map);
  out_.push_back(seed);
}

void Encoder::read(uint8_t file, uint64_t len, uint64_t off) {
  op(OpKind::read);
  out_.push_back(file);
  varint(len);
  varint(off);
}

void Encoder::unbind(uint8_t dev) {
  op(OpKind::unbind);
  out_.push_back(dev);
}

void Encoder::rebind(uint8_t dev) {
  op(OpKind::rebind);
  out_.push_back(dev);
}

void Encoder::remove() { op(OpKind::remove); }
void Encoder::rescan() { op(OpKind::rescan); }

void Encoder::tick(unsigned ms) {
  op(OpKind::tick);
  out_.push_back(static_cast<uint8_t>((ms < 1 ? 1 : ms > 256 ? 256 : ms) - 1));
}

}  // namespace udrm::fuzz
