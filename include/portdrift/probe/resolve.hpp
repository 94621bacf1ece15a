#pragma once
// Name resolution for targets: IP literals pass through without a lookup;
// names are resolved concurrently, once each, with a deadline. A name that
// does not resolve is a per-name error, never a failure of the whole run.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

namespace portdrift::probe {

struct Resolution {
  std::optional<boost::asio::ip::address> address;  // first IPv4 answer, else first IPv6
  std::string text;                                 // address, formatted once for reports
  std::string error;                                // set when address is empty
};

// Ends at the deadline, or when the awaiting coroutine is cancelled, with the
// answers in by then; names still unanswered carry an error.
boost::asio::awaitable<std::unordered_map<std::string, Resolution>> resolve_all(
    std::vector<std::string> names, std::chrono::milliseconds timeout);

// One blocking lookup (getaddrinfo); runs on a worker thread.
using Lookup = std::function<Resolution(const std::string& name)>;
Resolution lookup_name(const std::string& name);

// The same with another lookup (tests: one that blocks until released). The
// lookup is called on worker threads and destroyed by the last of them,
// possibly after resolve_all has returned and its io_context is gone.
boost::asio::awaitable<std::unordered_map<std::string, Resolution>> resolve_all(
    std::vector<std::string> names, std::chrono::milliseconds timeout, Lookup lookup);

}  // namespace portdrift::probe
