// The metrics endpoint's request handler (daemon::answer_request, a pure
// function from the raw request bytes to the answer) on arbitrary bytes: a
// malformed, oversized or hostile request gets an answer, never a crash or an
// exception; and the basic-auth header decoder on the same bytes. Built only when include/portdrift/daemon/metrics.hpp declares
// answer_request (see CMakeLists.txt).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "portdrift/daemon/metrics.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const std::function<std::string()> provider = [] {
    return std::string("# HELP portdrift_checks Checks.\n# TYPE portdrift_checks gauge\nportdrift_checks 3\n");
  };
  const auto answer = portdrift::daemon::answer_request(raw, provider);
  (void)answer;
  // The same bytes as an Authorization header value (basic auth, --web.config.file).
  if (const auto cred = portdrift::daemon::basic_credentials(raw)) {
    if (cred->first.find(':') != std::string::npos) __builtin_trap();  // the user name ends at the first ':'
  }
  return 0;
}
