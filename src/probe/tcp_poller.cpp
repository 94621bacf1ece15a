#include "tcp_poller.hpp"

#include <unistd.h>

#include <cerrno>

namespace portdrift::probe::detail {

TcpPoller::TcpPoller(const boost::asio::any_io_executor& ex) : ep_(ex) {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::system_category(), "cannot create an epoll instance");
  boost::system::error_code ec;
  ep_.assign(fd, ec);
  if (ec) {
    ::close(fd);
    throw std::system_error(ec, "cannot watch the epoll instance");
  }
}

namespace {

std::error_code arm(int ep, int op, int fd, std::uint64_t token) noexcept {
  epoll_event ev{};
  ev.events = EPOLLOUT | EPOLLONESHOT;  // EPOLLERR and EPOLLHUP are always reported
  ev.data.u64 = token;
  if (::epoll_ctl(ep, op, fd, &ev) != 0) return {errno, std::system_category()};
  return {};
}

}  // namespace

std::error_code TcpPoller::watch(int fd, std::uint64_t token) noexcept {
  return arm(ep_.native_handle(), EPOLL_CTL_ADD, fd, token);
}

std::error_code TcpPoller::rewatch(int fd, std::uint64_t token) noexcept {
  return arm(ep_.native_handle(), EPOLL_CTL_MOD, fd, token);
}

}  // namespace portdrift::probe::detail
