#pragma once
// Name resolution for targets: IP literals pass through without a lookup;
// names are resolved concurrently, once each, with a deadline. A name that
// does not resolve is a per-name error, never a failure of the whole run.

#include <chrono>
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

boost::asio::awaitable<std::unordered_map<std::string, Resolution>> resolve_all(
    std::vector<std::string> names, std::chrono::milliseconds timeout);

}  // namespace portdrift::probe
