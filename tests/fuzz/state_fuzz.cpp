// The state-file reader: any text is ok or corrupt, never a crash or an
// exception; what it accepts writes back (to_json) to a file it reads again
// with the same checks.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "portdrift/daemon/state_file.hpp"

namespace d = portdrift::daemon;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto loaded = d::from_json(text);
  if (loaded.status != d::LoadStatus::ok) return 0;
  const auto again = d::from_json(d::to_json(loaded.state));
  if (again.status != d::LoadStatus::ok || again.state.checks.size() != loaded.state.checks.size()) std::abort();
  for (std::size_t i = 0; i < again.state.checks.size(); ++i) {
    if (again.state.checks[i].key != loaded.state.checks[i].key) std::abort();
  }
  return 0;
}
