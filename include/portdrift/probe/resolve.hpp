#pragma once
// Name resolution for targets: IP literals pass through without a lookup;
// names are resolved concurrently, once each, with a deadline. A name that
// does not resolve is a per-name error, never a failure of the whole run.
// A name gives every address it has (A and AAAA), so that each can be probed.

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
  // Every address of the name, deduplicated, in a stable order that does not
  // follow the resolver's rotation: IPv4 ascending, then IPv6 ascending. An IP
  // literal is its one address.
  std::vector<boost::asio::ip::address> addresses;
  std::vector<std::string> texts;  // addresses[i], formatted once for reports
  std::string error;               // set when addresses is empty
};

// Ends at the deadline, or when the awaiting coroutine is cancelled, with the
// answers in by then; names still unanswered carry an error.
// Sorts and deduplicates `r.addresses` into the stable order and fills `texts`.
void normalize(Resolution& r);

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
