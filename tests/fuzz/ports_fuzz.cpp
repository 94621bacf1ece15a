// The port-spec parser: never crashes, and whatever it accepts prints back
// (to_string) as a spec that parses to the same ranges.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "portdrift/core/ports.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)portdrift::parse_port(text);
  std::string error;
  const auto spec = portdrift::parse_port_spec(text, error);
  if (!spec) {
    if (error.empty()) std::abort();  // a rejection always says why
    return 0;
  }
  const auto printed = spec->to_string();
  std::string again_error;
  const auto again = portdrift::parse_port_spec(printed, again_error);
  if (!again || again->ranges != spec->ranges) std::abort();
  std::uint32_t count = 0;
  for (const auto& r : spec->ranges) {
    if (r.first > r.last || !spec->contains(r.first) || !spec->contains(r.last) || !spec->covers(r)) std::abort();
    count += r.size();
  }
  if (count < spec->count()) std::abort();  // count() may merge overlaps, never exceed the sum
  return 0;
}
