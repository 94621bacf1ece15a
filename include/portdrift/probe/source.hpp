#pragma once
// Where probes leave from. A source is an address of this machine (probes
// bind to it, port 0, before they connect or send) or an interface name
// (SO_BINDTODEVICE, which needs CAP_NET_RAW). Empty: the kernel's choice.
//
// find_source checks that the source exists here, so that a typo is a clear
// diagnostic before anything is probed rather than a run of local errors.

#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/address.hpp>

namespace portdrift::probe {

struct Source {
  std::optional<boost::asio::ip::address> address;  // bind to this address, port 0
  std::string interface;                            // or to this device
  [[nodiscard]] bool empty() const noexcept { return !address && interface.empty(); }
};

struct SourceResult {
  Source source;
  std::string error;  // set when the source does not exist on this machine
  [[nodiscard]] bool ok() const noexcept { return error.empty(); }
};

// An IP literal must be assigned to one of this machine's interfaces
// (getifaddrs); anything else must name an interface. Empty text: no source.
SourceResult find_source(std::string_view text);

// Binds `fd`, a socket for a target of the given family, to `source`. Returns
// an error in words (family mismatch, bind or SO_BINDTODEVICE failure), or
// nothing on success or for an empty source.
std::optional<std::string> bind_source(int fd, const Source& source, bool target_is_v6);

}  // namespace portdrift::probe
