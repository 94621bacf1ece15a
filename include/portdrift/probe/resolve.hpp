#pragma once
// Name resolution for targets: IP literals pass through without a lookup;
// names are resolved concurrently, once each, with a deadline. A name that
// does not resolve is a per-name error, never a failure of the whole run.
// A name gives every address it has (A and AAAA), so that each can be probed.

#include <chrono>
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

// Sorts and deduplicates `r.addresses` into the stable order and fills `texts`.
void normalize(Resolution& r);

boost::asio::awaitable<std::unordered_map<std::string, Resolution>> resolve_all(
    std::vector<std::string> names, std::chrono::milliseconds timeout);

}  // namespace portdrift::probe
