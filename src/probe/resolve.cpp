// Resolves each distinct name once, all at the same time, under one deadline.

#include "portdrift/probe/resolve.hpp"

#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <fmt/format.h>

#include "latch.hpp"

namespace portdrift::probe {
namespace asio = boost::asio;
using asio::ip::tcp;

asio::awaitable<std::unordered_map<std::string, Resolution>> resolve_all(std::vector<std::string> names,
                                                                          std::chrono::milliseconds timeout) {
  std::unordered_map<std::string, Resolution> out;
  std::vector<std::string> lookups;
  for (auto& name : names) {
    if (out.contains(name)) continue;
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(name, ec);
    if (!ec) {
      out[name].address = addr;
      out[name].text = addr.to_string();
    } else {
      out[name].error = "did not resolve";
      lookups.push_back(name);
    }
  }
  if (lookups.empty()) co_return out;

  const auto ex = co_await asio::this_coro::executor;
  // Shared with the lookups so that a lookup finishing after the deadline writes into live memory.
  struct State {
    State(const asio::any_io_executor& e, std::size_t n) : latch(e, n), resolver(e) {}
    detail::Latch latch;
    tcp::resolver resolver;
    std::unordered_map<std::string, Resolution> found;
  };
  auto state = std::make_shared<State>(ex, lookups.size());
  for (const auto& name : lookups) {
    state->resolver.async_resolve(name, "", [state, name](const boost::system::error_code& ec,
                                                          const tcp::resolver::results_type& results) {
      Resolution r;
      if (ec) {
        r.error = fmt::format("did not resolve: {}", ec.message());
      } else {
        for (const auto& entry : results) {
          const auto a = entry.endpoint().address();
          if (a.is_v4()) {
            r.address = a;
            break;
          }
          if (!r.address) r.address = a;
        }
        if (!r.address) r.error = "resolved to no address";
      }
      state->found[name] = std::move(r);
      state->latch.count_down();
    });
  }
  asio::steady_timer deadline(ex, timeout);
  deadline.async_wait([state](const boost::system::error_code& ec) {
    if (!ec) state->resolver.cancel();
  });
  co_await state->latch.wait();
  deadline.cancel();
  for (auto& [name, r] : state->found) {
    if (r.address) r.text = r.address->to_string();
    if (r.error == "did not resolve: Operation canceled") r.error = fmt::format("did not resolve within {} ms", timeout.count());
    out[name] = std::move(r);
  }
  co_return out;
}

}  // namespace portdrift::probe
