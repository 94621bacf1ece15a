#pragma once
// The two halves of a TCP connect probe, shared by the coroutine
// (tcp_attempt) and the engine's fast path: start a non-blocking connect, and
// classify it once the socket is writable. Kept apart from any waiting so
// that each caller chooses how to wait and for how long.

#include <chrono>
#include <optional>

#include <boost/asio/ip/tcp.hpp>

#include "portdrift/core/observation.hpp"
#include "portdrift/probe/source.hpp"

namespace portdrift::probe::detail {

struct ConnectStart {
  int fd = -1;                     // a connect in progress, to wait for writability on
  std::optional<Observation> done; // or a result already (no route, no socket)
};

// Connects a non-blocking socket with IP_RECVERR/IPV6_RECVERR: `idle_fd`
// if it is one (a socket of the endpoint's family that recycle() returned),
// else a new one, bound to `source` if one is given (a recycled socket keeps
// the source it was bound to). On a result already, the socket is closed.
ConnectStart start_connect(const boost::asio::ip::tcp::endpoint& ep, int idle_fd = -1, const Source* source = nullptr);

// Classifies a connect that became writable: SO_ERROR, then the ICMP error
// queue (only an error about a packet to `ep` counts). Does not close `fd`.
Observation finish_connect(int fd, const boost::asio::ip::tcp::endpoint& ep, std::chrono::microseconds elapsed);

// After an attempt that ended `o` (or in silence): makes the socket ready
// for another connect and returns true, or returns false when it must be
// closed instead. A socket is recycled only when the attempt left nothing
// behind on it: a refusal by RST, or silence (dropped before any answer; no
// packet is sent). A completed handshake is closed, so the service sees an
// orderly FIN; a socket that received an ICMP error is closed too.
bool recycle(int fd, const Observation& o) noexcept;

// The observation for a connect that met silence until its deadline.
Observation silent_connect();

}  // namespace portdrift::probe::detail
