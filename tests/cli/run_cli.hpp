#pragma once
// Runs `portdrift WORDS...` in process, as the cli tests do: its exit code and what it printed.

#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "portdrift/cli/cli.hpp"

namespace portdrift::cli::test {

struct Result {
  int code;
  std::string out;
  std::string err;
};

inline Result run_cli(std::vector<std::string> words) {
  words.insert(words.begin(), "portdrift");
  std::vector<std::string_view> args(words.begin(), words.end());
  std::ostringstream out, err;
  const int code = run(args, out, err);
  return {code, out.str(), err.str()};
}

}  // namespace portdrift::cli::test
