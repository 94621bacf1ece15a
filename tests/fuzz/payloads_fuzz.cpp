// Every UDP reply parser, one target. The first byte selects the parser (in
// the registry's stable order; one past the end selects parse_choice, the
// topology's `payload:` value); the rest is the datagram. The request is the
// payload's own, built with the unit tests' context (seed 42, 198.18.0.1:40000),
// so replies captured from the unit tests are valid seeds that reach the deep
// paths. bytes_preview and TFTP's farewell see every datagram too.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "portdrift/payloads/payloads.hpp"

namespace pl = portdrift::payloads;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto payloads = pl::all();
  const std::size_t selector = data[0] % (payloads.size() + 1);
  const std::span<const std::uint8_t> datagram(data + 1, size - 1);
  (void)pl::bytes_preview(datagram);
  if (selector == payloads.size()) {
    std::string error;
    const auto choice = pl::parse_choice(
        std::string_view(reinterpret_cast<const char*>(datagram.data()), datagram.size()), error);
    if (!choice && error.empty()) std::abort();
    return 0;
  }
  const auto& p = payloads[selector];
  pl::Context ctx;
  ctx.seed = 42;
  ctx.local = {198, 18, 0, 1};
  ctx.local_port = 40000;
  const auto request = p.build(ctx);
  if (!request) return 0;
  const auto reply = p.check(*request, datagram);
  if (reply.what.empty()) std::abort();  // every verdict says what it saw
  if (p.farewell != nullptr) (void)p.farewell(datagram);
  return 0;
}
