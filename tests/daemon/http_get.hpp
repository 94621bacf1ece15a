#pragma once
// A blocking HTTP/1.1 client for tests (loopback only): one request, reads to EOF.
// http_send() sends raw bytes (malformed or oversized requests), http_get() a well-formed request.

#include <sys/socket.h>
#include <sys/time.h>

#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace portdrift::daemon::testing {

struct HttpResponse {
  int status = -1;  // -1: no connection or no answer
  std::string headers;
  std::string body;
};

// Sends `bytes` as they are and reads the answer to EOF.
inline HttpResponse http_send(const std::string& address, std::uint16_t port, const std::string& bytes) {
  namespace asio = boost::asio;
  HttpResponse r;
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  boost::system::error_code ec;
  s.connect(asio::ip::tcp::endpoint(asio::ip::make_address(address), port), ec);
  if (ec) return r;
  timeval tv{5, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  asio::write(s, asio::buffer(bytes), ec);
  if (ec) return r;
  std::string all;
  char buf[4096];
  for (;;) {
    const auto n = s.read_some(asio::buffer(buf), ec);
    all.append(buf, n);
    if (ec) break;
  }
  const auto end = all.find("\r\n\r\n");
  if (all.size() < 12 || end == std::string::npos) return r;
  r.status = std::stoi(all.substr(9, 3));
  r.headers = all.substr(0, end);
  r.body = all.substr(end + 4);
  return r;
}

inline HttpResponse http_get(const std::string& address, std::uint16_t port, const std::string& path,
                             const std::string& method = "GET") {
  return http_send(address, port,
                   method + " " + path + " HTTP/1.1\r\nHost: " + address +
                       "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
}

}  // namespace portdrift::daemon::testing
