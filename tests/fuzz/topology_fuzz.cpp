// The topology loader on arbitrary text: it must return diagnostics, never
// crash, hang or throw. Run from an empty working directory (tests/fuzz/run
// does), so that a relative path the input names (an inventory file) finds
// nothing, and with -timeout, so that a path to a device cannot hang unseen.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "portdrift/config/topology.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto result = portdrift::config::parse_topology(text, "fuzz.yaml");
  (void)result;
  return 0;
}
