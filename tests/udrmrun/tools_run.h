// Running udrm-run, udrmctl and libdrm's test tools from the udrm-run tests: a shell command
// with its combined output and exit status, and parsers for modetest / udrmctl output.
//
// Lifetime: values. Context: test thread (blocks until the command ends; every command is
// wrapped in `timeout` so a hang becomes a failure).
#pragma once
#include <string>
#include <vector>

namespace udrm::run::test {

struct RunResult {
  int status = -1;  // exit status (128+signal if killed)
  std::string out;  // stdout + stderr
};

/// sh -c CMD with PATH starting with udrmctl's directory, under `timeout <secs>`.
RunResult sh(const std::string& cmd, int timeout_s = 60);
/// `udrm-run --driver D [extra] -- sh -c 'SCRIPT'` (script quoted for you).
RunResult udrm_run(const std::string& driver, const std::string& script, const std::string& extra = "");
bool have_tool(const char* name);
std::string udrmctl_path();
std::string temp_path(const std::string& name);  // a fresh path in a private temp dir
std::string slurp(const std::string& path);

/// From `modetest -c`: the first connected connector's id and its first mode ("1920x1080").
bool first_connected(const std::string& modetest_c, std::string* conn, std::string* mode);
/// From `udrmctl state`: value of key in the first line starting with prefix (e.g. prefix
/// "plane id=" + type=primary filter handled by the caller via contains).
std::vector<std::string> lines_with(const std::string& text, const std::string& needle);
std::string value_of(const std::string& line, const std::string& key);

}  // namespace udrm::run::test
