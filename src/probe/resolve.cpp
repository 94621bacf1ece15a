// Resolves each distinct name once, concurrently, under one deadline that
// really ends the wait.
//
// getaddrinfo blocks and cannot be interrupted, and Asio's resolver runs every
// lookup on one internal thread, one after the other. So lookups run on a few
// short-lived worker threads of our own that post each answer back to the
// event loop. The coroutine waits for them through until()
// (portdrift/core/deadline.hpp): when the deadline passes, or the awaiting
// coroutine is cancelled, the run goes on without the missing answers.
//
// Lifetime: workers post to the loop only while holding the work list's
// mutex and only while the run is not abandoned. The run is marked abandoned
// by a guard in the coroutine's frame, so on every way out of it: its
// return, an exception, and the destruction of the suspended frame when its
// io_context is destroyed first. A worker still blocked in getaddrinfo then
// finishes on its own and posts nothing to an event loop that may be gone.

#include "portdrift/probe/resolve.hpp"

#include "portdrift/core/deadline.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

namespace portdrift::probe {
namespace asio = boost::asio;

namespace {

constexpr std::size_t kMaxWorkers = 16;

}  // namespace

Resolution lookup_name(const std::string& name) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  Resolution r;
  if (const int rc = ::getaddrinfo(name.c_str(), nullptr, &hints, &list); rc != 0) {
    r.error = fmt::format("did not resolve: {}", ::gai_strerror(rc));
    return r;
  }
  for (const addrinfo* a = list; a != nullptr; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ai_addr);
      r.addresses.emplace_back(asio::ip::address_v4(ntohl(sin->sin_addr.s_addr)));
    } else if (a->ai_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(a->ai_addr);
      asio::ip::address_v6::bytes_type bytes;
      std::copy(std::begin(sin6->sin6_addr.s6_addr), std::end(sin6->sin6_addr.s6_addr), bytes.begin());
      r.addresses.emplace_back(asio::ip::address_v6(bytes, sin6->sin6_scope_id));
    }
  }
  ::freeaddrinfo(list);
  normalize(r);
  if (r.addresses.empty()) r.error = "resolved to no address";
  return r;
}

namespace {

// The work list, shared with the worker threads. Nothing of Asio in it: the
// last worker may drop it on its own thread, after the event loop is gone.
struct WorkList {
  explicit WorkList(Lookup l) : lookup(std::move(l)) {}
  const Lookup lookup;
  std::mutex mutex;               // guards names and abandoned
  std::deque<std::string> names;  // names no worker has taken yet
  bool abandoned = false;         // the run went on: post nothing more
};

// What the coroutine waits on. Owned on the event loop only (workers hold a
// weak_ptr, and only the handlers they post lock it, on the loop), so its
// timer is never destroyed on a worker thread.
struct Waiting {
  explicit Waiting(const asio::any_io_executor& ex) : done(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer done;
  std::size_t remaining = 0;
  std::unordered_map<std::string, Resolution> found;
};

void work(const std::shared_ptr<WorkList>& list, const std::weak_ptr<Waiting>& waiting,
          const asio::any_io_executor& ex) {
  while (true) {
    std::string name;
    {
      std::lock_guard lock(list->mutex);
      if (list->abandoned || list->names.empty()) return;
      name = std::move(list->names.front());
      list->names.pop_front();
    }
    Resolution r = list->lookup(name);
    std::lock_guard lock(list->mutex);
    if (list->abandoned) return;
    asio::post(ex, [waiting, name = std::move(name), r = std::move(r)]() mutable {
      const auto w = waiting.lock();
      if (!w) return;
      w->found[name] = std::move(r);
      if (--w->remaining == 0) w->done.cancel();
    });
  }
}

// Marks the run abandoned however the coroutine's frame goes away.
struct Abandon {
  std::shared_ptr<WorkList> list;
  ~Abandon() {
    std::lock_guard lock(list->mutex);
    list->abandoned = true;
  }
};

}  // namespace

void normalize(Resolution& r) {
  // IPv4 before IPv6 (address's operator< orders by family first), then by value.
  std::sort(r.addresses.begin(), r.addresses.end());
  r.addresses.erase(std::unique(r.addresses.begin(), r.addresses.end()), r.addresses.end());
  r.texts.clear();
  r.texts.reserve(r.addresses.size());
  for (const auto& a : r.addresses) r.texts.push_back(a.to_string());
}

asio::awaitable<std::unordered_map<std::string, Resolution>> resolve_all(std::vector<std::string> names,
                                                                          std::chrono::milliseconds timeout) {
  co_return co_await resolve_all(std::move(names), timeout, lookup_name);
}

asio::awaitable<std::unordered_map<std::string, Resolution>> resolve_all(std::vector<std::string> names,
                                                                          std::chrono::milliseconds timeout,
                                                                          Lookup lookup) {
  std::unordered_map<std::string, Resolution> out;
  const auto ex = co_await asio::this_coro::executor;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto list = std::make_shared<WorkList>(std::move(lookup));
  const Abandon abandon{list};
  for (auto& name : names) {
    if (out.contains(name)) continue;
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(name, ec);
    auto& r = out[name];
    if (!ec) {
      r.addresses.push_back(addr);
      r.texts.push_back(addr.to_string());
    } else {
      r.error = fmt::format("did not resolve within {} ms", timeout.count());  // unless an answer comes
      list->names.push_back(name);
    }
  }
  if (list->names.empty()) co_return out;
  auto waiting = std::make_shared<Waiting>(ex);
  waiting->remaining = list->names.size();
  const std::size_t workers = std::min(kMaxWorkers, list->names.size());
  const std::weak_ptr<Waiting> weak = waiting;
  for (std::size_t i = 0; i < workers; ++i) std::thread([list, weak, ex] { work(list, weak, ex); }).detach();

  // Ends when every answer is in (done is cancelled), at the deadline, or on cancellation.
  co_await until(deadline, waiting->done.async_wait(asio::as_tuple(asio::deferred)));
  {
    std::lock_guard lock(list->mutex);
    list->abandoned = true;
  }
  for (auto& [name, r] : waiting->found) out[name] = std::move(r);
  co_return out;
}

}  // namespace portdrift::probe
