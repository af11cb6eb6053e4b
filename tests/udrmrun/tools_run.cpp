// Helpers to run the tools (tools_run.h).
#include "tools_run.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace udrm::run::test {

namespace {
std::string quote(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}
}  // namespace

std::string udrmctl_path() { return UDRMCTL_PATH; }

RunResult sh(const std::string& cmd, int timeout_s) {
  std::string dir = udrmctl_path().substr(0, udrmctl_path().rfind('/'));
  std::string full = "timeout -k 5 " + std::to_string(timeout_s) + " sh -c " +
                     quote("PATH=" + dir + ":$PATH; export PATH; " + cmd) + " 2>&1";
  RunResult r;
  FILE* p = popen(full.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
  return r;
}

RunResult udrm_run(const std::string& driver, const std::string& script, const std::string& extra) {
  return sh(std::string(UDRM_RUN_PATH) + " --driver " + driver + " " + extra + " -- sh -c " + quote(script));
}

bool have_tool(const char* name) {
  std::string p = std::string("/usr/bin/") + name;
  return access(p.c_str(), X_OK) == 0;
}

std::string temp_path(const std::string& name) {
  static std::string dir = [] {
    char t[] = "/tmp/udrmrun-test.XXXXXX";
    return std::string(mkdtemp(t) ? t : "/tmp");
  }();
  return dir + "/" + name;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// modetest -c: a connector line is "ID\tENC\tconnected\t..."; its first mode line is
// "  #0 WxH ...". (Plain parsing: std::regex trips g++-12's -Wmaybe-uninitialized under ASan.)
bool first_connected(const std::string& text, std::string* conn, std::string* mode) {
  std::istringstream in(text);
  std::string line;
  bool in_conn = false;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string a, b, c;
    if (!in_conn) {
      if (words >> a >> b >> c && c == "connected" && !a.empty() &&
          a.find_first_not_of("0123456789") == std::string::npos) {
        *conn = a;
        in_conn = true;
      }
    } else if (words >> a >> b && a == "#0" && b.find('x') != std::string::npos) {
      *mode = b;
      return true;
    }
  }
  return false;
}

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) out.push_back(line);
  return out;
}

std::string value_of(const std::string& line, const std::string& key) {
  std::string k = " " + key + "=";
  auto pos = (" " + line).find(k);
  if (pos == std::string::npos) return "";
  pos += k.size() - 1;
  auto end = line.find(' ', pos);
  return line.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
}

}  // namespace udrm::run::test
