// Replay tokens (udrm/explore/schedule.h).
#include "udrm/explore/schedule.h"

#include <charconv>
#include <cstring>

namespace udrm::explore {
namespace {

constexpr const char* kEventNames[] = {"none", "unbind", "unplug", "close", "rebind", "fail"};

// Characters with a meaning in the grammar are %-escaped in names.
void escape(std::string& out, std::string_view s) {
  static const char hex[] = "0123456789abcdef";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == ':' || c == ',' || c == '/' || c == '>' || c == '%' || c == '@' || u < 0x21 || u > 0x7e) {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
}

bool unescape(std::string_view s, std::string* out) {
  out->clear();
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      *out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return false;
    unsigned v = 0;
    auto r = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (r.ec != std::errc() || r.ptr != s.data() + i + 3) return false;
    *out += static_cast<char>(v);
    i += 2;
  }
  return !out->empty();
}

bool parse_u32(std::string_view s, uint32_t* v) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// "<task>/<seq>"
bool parse_task(std::string_view s, std::string* task, uint32_t* seq) {
  auto slash = s.rfind('/');
  if (slash == std::string_view::npos) return false;
  return unescape(s.substr(0, slash), task) && parse_u32(s.substr(slash + 1), seq);
}

bool parse_site(std::string_view s, Site* out) {
  auto c1 = s.find(',');
  if (c1 == std::string_view::npos) return false;
  auto c2 = s.find(',', c1 + 1);
  if (c2 == std::string_view::npos) return false;
  return unescape(s.substr(0, c1), &out->point) &&
         parse_task(s.substr(c1 + 1, c2 - c1 - 1), &out->task, &out->task_seq) &&
         parse_u32(s.substr(c2 + 1), &out->occurrence);
}

void put_site(std::string& out, const Site& s) {
  escape(out, s.point);
  out += ',';
  escape(out, s.task.empty() ? std::string_view("-") : std::string_view(s.task));
  out += '/';
  out += std::to_string(s.task_seq);
  out += ',';
  out += std::to_string(s.occurrence);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    auto pos = s.find(sep, start);
    parts.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

}  // namespace

const char* event_name(Event e) noexcept {
  auto i = static_cast<std::size_t>(e);
  return i < std::size(kEventNames) ? kEventNames[i] : "?";
}

bool event_from_name(std::string_view name, Event* out) noexcept {
  for (std::size_t i = 0; i < std::size(kEventNames); ++i) {
    if (name == kEventNames[i]) {
      *out = static_cast<Event>(i);
      return true;
    }
  }
  return false;
}

std::string to_string(const Site& s) {
  std::string out = s.point + " in " + (s.task.empty() ? "-" : s.task);
  if (s.task_seq) out += "#" + std::to_string(s.task_seq);
  if (s.occurrence) out += " (pass " + std::to_string(s.occurrence + 1) + ")";
  return out;
}

std::string encode(const Schedule& s) {
  std::string out = "udrm1:";
  escape(out, s.scenario);
  out += ':';
  out += event_name(s.event);
  if (s.event != Event::none) {
    out += '@';
    put_site(out, s.where);
  }
  for (const Decision& d : s.decisions) {
    out += ':';
    out += d.kind == Decision::Kind::preempt ? 'p' : 'b';
    put_site(out, d.at);
    out += '>';
    escape(out, d.to_task);
    out += '/';
    out += std::to_string(d.to_seq);
  }
  return out;
}

bool decode(std::string_view token, Schedule* out, std::string* err) {
  auto fail = [&](std::string why) {
    if (err) *err = "bad replay token: " + why;
    return false;
  };
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ' || token.back() == '\r')) token.remove_suffix(1);
  auto parts = split(token, ':');
  if (parts.size() < 3 || parts[0] != "udrm1") return fail("expected 'udrm1:<scenario>:<event>...'");
  Schedule s;
  if (!unescape(parts[1], &s.scenario)) return fail("empty or malformed scenario name");
  std::string_view ev = parts[2];
  auto at = ev.find('@');
  if (!event_from_name(ev.substr(0, at), &s.event)) return fail("unknown event '" + std::string(ev.substr(0, at)) + "'");
  if (s.event != Event::none) {
    if (at == std::string_view::npos || !parse_site(ev.substr(at + 1), &s.where))
      return fail("event '" + std::string(event_name(s.event)) + "' needs @<point>,<task>/<seq>,<occurrence>");
  } else if (at != std::string_view::npos) {
    return fail("event 'none' takes no site");
  }
  for (std::size_t i = 3; i < parts.size(); ++i) {
    std::string_view d = parts[i];
    Decision dec;
    if (d.empty() || (d[0] != 'p' && d[0] != 'b')) return fail("decision " + std::to_string(i - 2) + " must start with p or b");
    dec.kind = d[0] == 'p' ? Decision::Kind::preempt : Decision::Kind::pick;
    auto gt = d.find('>');
    if (gt == std::string_view::npos || !parse_site(d.substr(1, gt - 1), &dec.at) ||
        !parse_task(d.substr(gt + 1), &dec.to_task, &dec.to_seq))
      return fail("malformed decision '" + std::string(d) + "'");
    s.decisions.push_back(std::move(dec));
  }
  *out = std::move(s);
  return true;
}

}  // namespace udrm::explore
