#pragma once
// Small helpers shared by the unit tests: diagnostics as text, a temporary
// directory for tests that read files (topologies, inventories), observations.

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

#include "portdrift/core/diagnostic.hpp"
#include "portdrift/core/observation.hpp"

namespace portdrift::test_support {

// Every diagnostic, formatted, one per line (for failure messages).
inline std::string all(const Diagnostics& d) {
  std::string out;
  for (const auto& x : d) out += format(x) + "\n";
  return out;
}

// Whether some formatted diagnostic contains `needle`.
inline bool has(const Diagnostics& d, std::string_view needle) {
  return std::any_of(d.begin(), d.end(), [&](const Diagnostic& x) { return format(x).find(needle) != std::string::npos; });
}

// A directory of its own for one test, removed with everything in it afterwards.
class TempDir {
 public:
  TempDir() {
    std::string s = (std::filesystem::temp_directory_path() / "portdrift-test-XXXXXX").string();
    if (::mkdtemp(s.data()) != nullptr) path_ = s;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Writes `text` to `name` in the directory and returns the file's path.
  std::string write(const std::string& name, std::string_view text) const {
    const auto p = (path_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// What a probe saw: a state, its reason, the address it probed.
inline Observation observed(PortState state, Reason reason, std::string address) {
  Observation o;
  o.state = state;
  o.reason = reason;
  o.address = std::move(address);
  return o;
}

}  // namespace portdrift::test_support
