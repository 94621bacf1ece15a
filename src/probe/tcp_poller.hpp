#pragma once
// Readiness for the TCP fast path, on an epoll instance of its own.
//
// A connect probe needs one readiness event per socket. Through Asio's
// reactor that costs three epoll_ctl calls (add, add EPOLLOUT, delete) and a
// FIONBIO ioctl per socket; here it costs one epoll_ctl, and close() removes
// the socket from the set. Asio watches the epoll descriptor itself, so the
// events are still handled on the caller's io_context, one batch per wake-up.
// Each arming reports once (EPOLLONESHOT), so a recycled socket sitting idle
// in the set reports nothing until it is re-armed.
//
// Contract: a watched descriptor must never be dup()ed, so that closing it
// stops its events. An event may carry the token of an attempt its owner
// has already ended: tokens carry a generation so the owner can tell.

#include <sys/epoll.h>

#include <array>
#include <cstdint>
#include <system_error>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

namespace portdrift::probe::detail {

class TcpPoller {
 public:
  // Throws std::system_error if no epoll instance can be created.
  explicit TcpPoller(const boost::asio::any_io_executor& ex);

  // Reports `token` once, when `fd` is writable or has an error pending.
  // watch() adds a socket to the set; rewatch() arms one that is already in
  // it (a recycled socket) for its next connect.
  std::error_code watch(int fd, std::uint64_t token) noexcept;
  std::error_code rewatch(int fd, std::uint64_t token) noexcept;

  // Calls on_ready(token) for each event, batch after batch, until cancel().
  // on_ready is kept in the pending wait; the poller must outlive that wait.
  template <class OnReady>
  void start(OnReady on_ready) {
    wait_for_events(std::move(on_ready));
  }

  void cancel() noexcept {
    boost::system::error_code ignored;
    ep_.cancel(ignored);
  }

  // Reads the events that are in now, without waiting. Not reentrant:
  // on_ready must not call drain() (the batch buffer is shared).
  template <class OnReady>
  void drain(OnReady&& on_ready) {
    // A full batch may leave more behind: read until a batch comes back short.
    for (;;) {
      const int n = ::epoll_wait(ep_.native_handle(), events_.data(), static_cast<int>(events_.size()), 0);
      if (n <= 0) return;
      for (int i = 0; i < n; ++i) on_ready(events_[static_cast<std::size_t>(i)].data.u64);
      if (static_cast<std::size_t>(n) < events_.size()) return;
    }
  }

 private:
  template <class OnReady>
  void wait_for_events(OnReady on_ready) {
    ep_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                   [this, on_ready = std::move(on_ready)](const boost::system::error_code& ec) mutable {
                     if (ec) return;
                     drain(on_ready);
                     wait_for_events(std::move(on_ready));
                   });
  }

  boost::asio::posix::stream_descriptor ep_;
  std::array<epoll_event, 256> events_{};
};

}  // namespace portdrift::probe::detail
