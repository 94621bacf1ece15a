// The dispatcher.
//
// Targets are grouped by address. A ring of addresses that have work left and
// room under the per-host cap is served round-robin, so consecutive probes go
// to different hosts. A probe is one coroutine (spawned, not a thread) that
// makes up to retries+1 attempts and holds its slot until done; its completion
// frees the slot and refills the window. Pacing hands out send times
// 1/max_rate apart; a probe waits for its time before each attempt.

#include <sys/resource.h>

#include <algorithm>
#include <deque>
#include <unordered_map>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include "latch.hpp"
#include "portdrift/probe/engine.hpp"

namespace portdrift::probe {
namespace asio = boost::asio;

std::uint32_t fd_budget(std::uint32_t reserve) noexcept {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 256;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  const auto cur = lim.rlim_cur == RLIM_INFINITY ? rlim_t{1} << 20 : lim.rlim_cur;
  if (cur <= reserve + 1) return 1;
  return static_cast<std::uint32_t>(std::min<rlim_t>(cur - reserve, UINT32_MAX));
}

namespace {

using Clock = std::chrono::steady_clock;

class Dispatcher {
 public:
  Dispatcher(asio::any_io_executor ex, std::span<const Target> targets, const Settings& s, std::uint32_t cap)
      : ex_(std::move(ex)), targets_(targets), settings_(s), cap_(cap), results_(targets.size()),
        latch_(ex_, targets.size()) {
    std::unordered_map<asio::ip::address, std::uint32_t> index;
    index.reserve(targets.size());
    for (std::uint32_t i = 0; i < targets.size(); ++i) {
      auto [it, fresh] = index.try_emplace(targets[i].address, static_cast<std::uint32_t>(hosts_.size()));
      if (fresh) hosts_.emplace_back();
      hosts_[it->second].pending.push_back(i);
    }
    for (std::uint32_t h = 0; h < hosts_.size(); ++h) {
      ready_.push_back(h);
      hosts_[h].queued = true;
    }
    if (settings_.max_rate > 0) {
      interval_ = std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)) / settings_.max_rate;
    }
  }

  asio::awaitable<std::vector<Observation>> run() {
    pump();
    co_await latch_.wait();
    co_return std::move(results_);
  }

  [[nodiscard]] std::uint64_t attempts() const noexcept { return attempts_; }

 private:
  struct Host {
    std::vector<std::uint32_t> pending;
    std::size_t next = 0;
    std::uint32_t inflight = 0;
    bool queued = false;
  };

  void pump() {
    while (inflight_ < cap_ && !ready_.empty()) {
      const std::uint32_t h = ready_.front();
      ready_.pop_front();
      Host& host = hosts_[h];
      host.queued = false;
      const std::uint32_t idx = host.pending[host.next++];
      ++host.inflight;
      ++inflight_;
      requeue(h);
      asio::co_spawn(ex_, probe(idx), [this, h, idx](std::exception_ptr e, Observation o) {
        if (e) {
          o = Observation{};
          o.address = targets_[idx].address.to_string();
          o.detail = "internal error in the probe";
        }
        results_[idx] = std::move(o);
        --hosts_[h].inflight;
        --inflight_;
        requeue(h);
        latch_.count_down();
        pump();
      });
    }
  }

  void requeue(std::uint32_t h) {
    Host& host = hosts_[h];
    if (!host.queued && host.next < host.pending.size() && host.inflight < settings_.per_host_concurrency) {
      host.queued = true;
      ready_.push_back(h);
    }
  }

  asio::awaitable<void> pace() {
    if (interval_ == Clock::duration::zero()) co_return;
    const auto now = Clock::now();
    next_send_ = std::max(next_send_, now);
    const auto mine = next_send_;
    next_send_ += interval_;
    if (mine > now) {
      asio::steady_timer t(ex_, mine);
      co_await t.async_wait(asio::use_awaitable);
    }
  }

  asio::awaitable<Observation> probe(std::uint32_t idx) {
    const Target& t = targets_[idx];
    Observation o;
    for (std::uint32_t attempt = 0; attempt <= settings_.retries; ++attempt) {
      co_await pace();
      ++attempts_;
      o = co_await tcp_attempt(t.address, t.port, settings_.timeout);
      o.attempts = attempt + 1;
      if (o.reason != Reason::no_response) break;  // only silence is worth another try
    }
    co_return o;
  }

  asio::any_io_executor ex_;
  std::span<const Target> targets_;
  Settings settings_;
  std::uint32_t cap_;
  std::vector<Observation> results_;
  detail::Latch latch_;
  std::vector<Host> hosts_;
  std::deque<std::uint32_t> ready_;
  std::uint32_t inflight_ = 0;
  std::uint64_t attempts_ = 0;
  Clock::duration interval_{};
  Clock::time_point next_send_{};
};

}  // namespace

asio::awaitable<std::vector<Observation>> probe_all(std::span<const Target> targets, Settings settings,
                                                    RunStats* stats) {
  if (targets.empty()) co_return std::vector<Observation>{};
  settings.per_host_concurrency = std::max<std::uint32_t>(settings.per_host_concurrency, 1);
  const std::uint32_t cap = std::max<std::uint32_t>(1, std::min(settings.concurrency, fd_budget()));
  Dispatcher d(co_await asio::this_coro::executor, targets, settings, cap);
  auto results = co_await d.run();
  if (stats != nullptr) {
    stats->concurrency = cap;
    stats->attempts = d.attempts();
  }
  co_return results;
}

}  // namespace portdrift::probe
