#pragma once
// The two halves of a TCP connect probe, shared by the coroutine
// (tcp_attempt) and the engine's fast path: start a non-blocking connect, and
// classify it once the socket is writable. Kept apart from any waiting so
// that each caller chooses how to wait and for how long.

#include <chrono>
#include <optional>

#include <boost/asio/ip/tcp.hpp>

#include "portdrift/core/observation.hpp"

namespace portdrift::probe::detail {

struct ConnectStart {
  int fd = -1;                     // a connect in progress, to wait for writability on
  std::optional<Observation> done; // or a result already (no route, no socket)
};

// Opens a non-blocking socket with IP_RECVERR/IPV6_RECVERR and connects it.
ConnectStart start_connect(const boost::asio::ip::tcp::endpoint& ep);

// Classifies a connect that became writable: SO_ERROR, then the ICMP error
// queue. Does not close `fd`.
Observation finish_connect(int fd, std::chrono::microseconds elapsed);

// The observation for a connect that met silence until its deadline.
Observation silent_connect();

}  // namespace portdrift::probe::detail
