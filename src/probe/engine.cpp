// The dispatcher.
//
// Targets are grouped by address. A ring of addresses that have work left and
// room under the per-host cap is served round-robin, so consecutive probes go
// to different hosts; host number h starts at its ((h + rotation) mod n)-th target, and,
// when the caps leave room for every probe at once, its targets expected to be silent move up
// behind its first few others (longest first: expected_silence_early). Each
// probe holds one concurrency slot from its first attempt to its last; only
// silence is retried.
//
// TCP takes a fast path with no coroutine frame and no timer per probe: an
// attempt is a pooled Attempt (one socket) watched by the TcpPoller, an epoll
// set of its own (one epoll_ctl per socket; close() takes it out again). One
// timer over a min-heap of (deadline, attempt) serves every attempt's
// deadline; it wakes at most once a millisecond and skips attempts already
// answered. With fixed timing every attempt has the same timeout and the heap
// pops in start order; with adaptive timing each address has its own
// (RttEstimator, fed by every answer from the address). When an address's
// estimate first becomes trusted, its attempts in flight get a second, earlier
// deadline entry; whichever entry pops first ends the attempt and the other is
// stale, as an answered attempt's entry is.
// Pacing works the same way: send times are handed out 1/max_rate apart, in
// order, so a FIFO of due launches and one timer suffice; a wake-up launches
// what is due within the next millisecond. Other protocols run
// as one coroutine per probe (probe()), each bound to a cancellation signal
// of its own.
//
// UDP attempts wait for a token of the target's ICMP error limiter: the
// address's own IcmpErrorBudget, or, for the addresses of a vantage (source
// and family) that a canary found to share one kernel's limiter, the
// vantage's SharedIcmpLimiter (probe_udp, canary, own_limiter). With a time
// budget, an attempt that finds no token by then ends icmp-ratelimited. With
// Settings::rtt_memory, adaptive estimates start from and go back to it.
//
// Cancellation (run()): when the awaiting coroutine is cancelled, cancel_all()
// stops launching, completes the targets not yet started as not probed,
// closes the fast path's sockets (their attempts end as not probed), emits
// terminal cancellation to every UDP/ICMP coroutine, and run() waits, after
// reset_cancellation_state(), until each of those has ended. Completion
// handlers hold `this`, so the run never returns while one is pending.

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <unordered_map>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>

#include "icmp_error_budget.hpp"
#include "shared_icmp_limiter.hpp"
#include "latch.hpp"
#include "rtt_estimator.hpp"
#include "portdrift/core/deadline.hpp"
#include "portdrift/probe/engine.hpp"
#include "portdrift/probe/icmp.hpp"
#include "portdrift/probe/udp.hpp"
#include "tcp_connect.hpp"
#include "tcp_poller.hpp"

namespace portdrift::probe {
namespace asio = boost::asio;
using asio::ip::tcp;

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

Observation not_probed(std::string address) {
  Observation o;
  o.address = std::move(address);
  o.state = PortState::unknown;
  o.reason = Reason::not_probed;
  o.detail = "not probed: the pass was cancelled before this probe ended";
  return o;
}

namespace {

using Clock = std::chrono::steady_clock;

// Shared-owned: a timer's completion that was already queued when the run
// ended cannot be recalled by cancel(), so timer handlers keep it alive.
class Dispatcher : public std::enable_shared_from_this<Dispatcher> {
 public:
  Dispatcher(asio::any_io_executor ex, std::span<const Target> targets, const Settings& s, std::uint32_t cap,
             ResultSink sink)
      : ex_(std::move(ex)), targets_(targets), settings_(s), cap_(cap), sink_(std::move(sink)),
        latch_(ex_, targets.size()), poller_(ex_), deadline_timer_(ex_), pace_timer_(ex_), signals_(targets.size()),
        waited_(targets.size()) {
    std::unordered_map<asio::ip::address, std::uint32_t> index;
    index.reserve(targets.size());
    for (std::uint32_t i = 0; i < targets.size(); ++i) {
      auto [it, fresh] = index.try_emplace(targets[i].address, static_cast<std::uint32_t>(hosts_.size()));
      if (fresh) hosts_.emplace_back();
      hosts_[it->second].pending.push_back(i);
    }
    const bool room_for_all = targets.size() <= cap_;
    for (std::uint32_t h = 0; h < hosts_.size(); ++h) {
      // Each host starts at a different one of its ports (like nmap, which
      // shuffles them), so the n-th port of every host is not probed in one
      // sweep. It also spreads the silent ports, which hold a slot for the
      // whole timeout, over the run instead of bunching them at its end.
      auto& pending = hosts_[h].pending;
      if (pending.size() > 1) {
        const auto first = (h + settings_.rotation) % pending.size();
        std::rotate(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(first), pending.end());
        if (room_for_all && pending.size() <= settings_.per_host_concurrency) expected_silence_early(pending);
      }
      ready_.push_back(h);
      hosts_[h].queued = true;
    }
    host_of_.resize(targets.size());
    for (std::uint32_t h = 0; h < hosts_.size(); ++h) {
      for (auto i : hosts_[h].pending) host_of_[i] = h;
    }
    // UDP attempts to an address are paced by its ICMP error budget (icmp_error_budget.hpp), and
    // the addresses of one vantage (source and family) may turn out to share one limiter.
    const auto start = Clock::now();
    if (settings_.time_budget > std::chrono::milliseconds::zero()) give_up_ = start + settings_.time_budget;
    for (auto& host : hosts_) {
      std::chrono::milliseconds limit{0};
      for (auto i : host.pending) {
        if (targets_[i].protocol == Protocol::udp) limit = std::max(limit, targets_[i].icmp_ratelimit);
      }
      if (limit > std::chrono::milliseconds::zero()) {
        host.budget = std::make_unique<detail::IcmpErrorBudget>(ex_, limit, kIcmpBurst, start);
        const Target& t = targets_[host.pending.front()];
        const auto key = std::make_pair(t.source, t.address.is_v6());
        auto it = std::find_if(vantages_.begin(), vantages_.end(), [&](const auto& v) { return v->key == key; });
        if (it == vantages_.end()) {
          vantages_.push_back(std::make_unique<Vantage>(key, limit, kIcmpBurst, start, ex_));
          it = std::prev(vantages_.end());
        }
        (*it)->interval = std::max((*it)->interval, limit);  // the shared model paces to the slowest
        ++(*it)->addresses;
        host.vantage = static_cast<std::uint32_t>(it - vantages_.begin());
      }
    }
    if (settings_.max_rate > 0) {
      interval_ = std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1)) / settings_.max_rate;
    }
    detail::RttEstimator::Params timing;
    timing.ceiling = settings_.timeout;
    timing.floor = settings_.min_timeout;
    for (auto& host : hosts_) host.rtt = detail::RttEstimator(timing);
    if (settings_.timing == Timing::adaptive && settings_.rtt_memory != nullptr) {
      for (auto& host : hosts_) {
        const auto* e = settings_.rtt_memory->find(targets_[host.pending.front()].address);
        if (e != nullptr) host.rtt.restore(e->srtt, std::max(e->rttvar, e->srtt / 2), e->samples, e->widen / 2);
      }
    }
  }

  // Longest first, where every probe can be in flight at once (the run's and the address's
  // caps leave room for all): a silent port holds the run for every attempt, so the targets
  // expected to be silent (Target::silence_expected) start right after the first kTrustLead
  // answered ones of their address (enough for adaptive timing to trust an estimate before they
  // are judged), and their waits overlap the other probes' connects instead of following them.
  // Where slots are short, silent ports started first would hold them while the connects that
  // need the CPU wait: there the rotation's spread mixes the two better (measured: 10k probes at
  // --concurrency 256 took 2-16% longer silent-first). Each group keeps its rotated order.
  void expected_silence_early(std::vector<std::uint32_t>& pending) const {
    std::vector<std::uint32_t> answered, quiet;
    // UDP stays where it is: its attempts wait for the target's ICMP error tokens, whose order the
    // limiters decide (and a shared limiter is found on the first port unreachables).
    const auto moves = [this](std::uint32_t i) {
      return targets_[i].silence_expected && targets_[i].protocol != Protocol::udp;
    };
    for (auto i : pending) (moves(i) ? quiet : answered).push_back(i);
    if (quiet.empty() || answered.empty()) return;
    const auto lead = static_cast<std::ptrdiff_t>(std::min<std::size_t>(kTrustLead, answered.size()));
    pending.clear();
    pending.insert(pending.end(), answered.begin(), answered.begin() + lead);
    pending.insert(pending.end(), quiet.begin(), quiet.end());
    pending.insert(pending.end(), answered.begin() + lead, answered.end());
  }

  // Stores what the run learnt of each address for the next run (Settings::rtt_memory).
  void remember() const {
    if (settings_.timing != Timing::adaptive || settings_.rtt_memory == nullptr) return;
    const auto now = Clock::now();
    for (const auto& host : hosts_) {
      if (host.rtt.samples() == 0) continue;
      settings_.rtt_memory->store(targets_[host.pending.front()].address,
                                  RttMemory::Estimate{host.rtt.srtt(), host.rtt.rttvar(), host.rtt.samples(),
                                                      host.rtt.widening(), now});
    }
  }

  asio::awaitable<void> run() {
    poller_.start([this, self = shared_from_this()](std::uint64_t token) { on_writable(token); });
    if ((co_await asio::this_coro::cancellation_state).cancelled() == asio::cancellation_type::none) {
      pump();
    } else {
      cancel_all();
      co_await asio::this_coro::reset_cancellation_state();
    }
    while (!co_await latch_.wait()) {  // cancelled: end what runs, then wait for it
      cancel_all();
      co_await asio::this_coro::reset_cancellation_state();
    }
    poller_.cancel();
    close_idle();
    deadline_timer_.cancel();  // stale entries may still be queued; nothing waits on them now
    pace_timer_.cancel();
  }

  ~Dispatcher() { close_idle(); }
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  [[nodiscard]] std::uint64_t attempts() const noexcept { return attempts_; }
  [[nodiscard]] std::uint64_t not_probed_count() const noexcept { return not_probed_; }

  // The adaptive timing's figures for RunStats.
  void timing_stats(RunStats& stats) const {
    stats.widened = widened_;
    stats.shared_limiter_addresses = shared_addresses_;
    stats.limiter_canaries = canaries_made_;
    stats.icmp_ratelimited = icmp_ratelimited_;
    std::vector<Clock::duration> give_up;
    for (const auto& host : hosts_) {
      if (settings_.timing == Timing::adaptive && host.rtt.trusted()) give_up.push_back(host.rtt.timeout());
    }
    stats.trusted_addresses = static_cast<std::uint32_t>(give_up.size());
    if (give_up.empty()) return;
    std::sort(give_up.begin(), give_up.end());
    using std::chrono::duration_cast;
    using us = std::chrono::microseconds;
    stats.give_up_min = duration_cast<us>(give_up.front());
    stats.give_up_median = duration_cast<us>(give_up[give_up.size() / 2]);
    stats.give_up_max = duration_cast<us>(give_up.back());
  }

 private:
  struct Host {
    std::vector<std::uint32_t> pending;
    std::size_t next = 0;
    std::uint32_t inflight = 0;
    bool queued = false;
    std::unique_ptr<detail::IcmpErrorBudget> budget;  // only for addresses with UDP targets
    // Whose ICMP error limiter the address spends: its own, one it shares with other addresses of
    // its vantage (paced by the vantage's SharedIcmpLimiter), or not known yet.
    enum class Limiter : std::uint8_t { unknown, own, shared } limiter = Limiter::unknown;
    std::uint32_t vantage = 0;  // with a budget: index into vantages_
    bool canary = false;        // the one test of its limiter was made (or is under way)
    detail::RttEstimator rtt{detail::RttEstimator::Params{}};  // adaptive timing: this address's answers
    // adaptive timing: (slot, generation) of the TCP attempts started before the estimate was
    // trusted, which tighten() gives an earlier deadline; entries of attempts that ended are stale.
    std::vector<std::pair<std::uint32_t, std::uint32_t>> untimed;
  };

  static constexpr std::uint32_t kLaunchTurn = 256;
  // Answered probes an address gets before its expected-silent ones: enough to trust an estimate.
  static constexpr std::uint32_t kTrustLead = detail::RttEstimator::Params{}.trust_after;
  static inline const payloads::Choice kRegistryChoice{};  // empty: udp_attempt asks the registry

  // Linux's per-destination ICMP error bucket holds six tokens (XRLIM_BURST_FACTOR).
  static constexpr std::uint32_t kIcmpBurst = 6;

  // The addresses with UDP targets that leave from one source in one family. If the targets
  // behind them are one kernel, they spend one ICMP error bucket (the kernel's, for our address).
  // A canary finds out: a port of an address that has just drawn a port unreachable is probed
  // again when the address's own budget is sure to hold a token. Silence then means the bucket
  // was spent through other addresses: from then on (`shared_found`) the addresses of the vantage
  // whose own limiter is not proven confirm their silent ports through `shared`. An answer proves
  // a limiter of its own only if one bucket for the whole vantage would have been empty then
  // (`everyone`: the most such a bucket can hold, fed every error from the vantage); otherwise
  // it proves nothing.
  struct Vantage {
    Vantage(std::pair<const Source*, bool> k, std::chrono::milliseconds limit, std::uint32_t burst,
            Clock::time_point start, const asio::any_io_executor& ex)
        : key(k), interval(limit),
          // an upper bound: full at the start, refilled a little faster than the kernel does
          everyone(std::max<Clock::duration>(limit - limit / 50 - std::chrono::milliseconds(5),
                                             std::chrono::milliseconds(1)),
                   burst, burst, start),
          settled(ex, asio::steady_timer::time_point::max()) {}
    std::pair<const Source*, bool> key;  // source, IPv6
    std::chrono::milliseconds interval;
    detail::IcmpBucket everyone;
    std::uint32_t addresses = 0;
    std::uint32_t canaries = 0;  // under way
    std::uint32_t loose = 0;     // attempts in flight of addresses not known to have their own limiter
    Clock::duration slowest_error{};  // the longest round trip of an ICMP error from the vantage
    bool shared_found = false;
    bool undecided = false;  // a canary could not be made within the time budget
    std::unique_ptr<detail::SharedIcmpLimiter> shared;
    asio::steady_timer settled;  // never expires; cancelled when a canary ends
  };

  // One TCP attempt in flight. Pooled: a finished attempt's slot is reused,
  // under a new generation so that late events and deadlines for the old
  // attempt are recognised as stale.
  struct Attempt {
    int fd = -1;
    std::uint32_t idx = 0;
    std::uint32_t number = 0;  // 0 for the first attempt
    std::uint32_t generation = 0;
    Clock::time_point start;
  };

  struct Due {
    Clock::time_point at;
    std::uint32_t slot;
    std::uint32_t generation;
  };
  // std::push_heap/pop_heap keep the earliest deadline at the front.
  static bool later(const Due& a, const Due& b) noexcept { return a.at > b.at; }

  struct Launch {
    Clock::time_point at;
    std::uint32_t idx;
    std::uint32_t number;
  };

  // Starts probes while there is room; safe to call from completions. A
  // burst is cut into turns of kLaunchTurn launches with the event loop in
  // between: launching 20,000 sockets in one go would leave the first answers
  // unread, and their slots held, for half a second.
  void pump() {
    if (pumping_ || pump_posted_ || cancelled_) return;  // an attempt that fails at once completes inside the loop below
    pumping_ = true;
    std::uint32_t launched = 0;
    while (inflight_ < cap_ && !ready_.empty()) {
      if (launched++ == kLaunchTurn) {
        pump_posted_ = true;
        asio::post(ex_, [this, self = shared_from_this()] {
          pump_posted_ = false;
          pump();
        });
        break;
      }
      const std::uint32_t h = ready_.front();
      ready_.pop_front();
      Host& host = hosts_[h];
      host.queued = false;
      const std::uint32_t idx = host.pending[host.next++];
      ++host.inflight;
      ++inflight_;
      requeue(h);
      if (targets_[idx].protocol == Protocol::tcp) {
        schedule_tcp(idx, 0);
      } else {
        auto& signal = signals_[idx];
        if (!signal) signal = std::make_unique<asio::cancellation_signal>();
        asio::co_spawn(ex_, probe(idx),
                       asio::bind_cancellation_slot(signal->slot(), [this, idx](std::exception_ptr e, Observation o) {
                         if (cancelled_) {
                           o = cut_short(idx);  // whatever it saw so far is no observation
                         } else if (e) {
                           o = Observation{};
                           o.detail = "internal error in the probe";
                         }
                         complete(idx, std::move(o));
                       }));
      }
    }
    pumping_ = false;
  }

  void requeue(std::uint32_t h) {
    Host& host = hosts_[h];
    if (!host.queued && host.next < host.pending.size() && host.inflight < settings_.per_host_concurrency) {
      host.queued = true;
      ready_.push_back(h);
    }
  }

  void complete(std::uint32_t idx, Observation o) {
    sink_(idx, std::move(o));
    --hosts_[host_of_[idx]].inflight;
    --inflight_;
    requeue(host_of_[idx]);
    latch_.count_down();
    pump();
  }

  Observation cut_short(std::uint32_t idx) {
    ++not_probed_;
    return not_probed(targets_[idx].address.to_string());
  }

  // The pass is cancelled: see the file's head.
  void cancel_all() {
    if (cancelled_) return;
    cancelled_ = true;
    ready_.clear();
    for (std::uint32_t h = 0; h < hosts_.size(); ++h) {
      auto& host = hosts_[h];
      host.queued = false;
      while (host.next < host.pending.size()) {  // never started: no slot, no inflight count
        const auto idx = host.pending[host.next++];
        sink_(idx, cut_short(idx));
        latch_.count_down();
      }
    }
    pace_timer_.cancel();
    const auto launches = std::move(launches_);
    launches_.clear();
    for (const auto& l : launches) complete(l.idx, cut_short(l.idx));
    deadlines_.clear();
    deadline_timer_.cancel();
    for (std::uint32_t slot = 0; slot < slots_.size(); ++slot) {
      Attempt& a = slots_[slot];
      if (a.fd < 0) continue;
      ::close(a.fd);  // also takes it out of the poller
      a.fd = -1;
      ++a.generation;
      free_.push_back(slot);
      complete(a.idx, cut_short(a.idx));
    }
    for (auto& signal : signals_) {
      if (signal) signal->emit(asio::cancellation_type::terminal);
    }
  }

  // --- TCP fast path -------------------------------------------------------

  void schedule_tcp(std::uint32_t idx, std::uint32_t number) {
    if (cancelled_) {
      complete(idx, cut_short(idx));
      return;
    }
    if (interval_ == Clock::duration::zero()) {
      start_tcp(idx, number);
      return;
    }
    const auto now = Clock::now();
    next_send_ = std::max(next_send_, now);
    const auto at = next_send_;
    next_send_ += interval_;
    if (at <= now && launches_.empty()) {
      start_tcp(idx, number);
      return;
    }
    launches_.push_back({at, idx, number});
    if (launches_.size() == 1) arm_pace();
  }

  void arm_pace() {
    pace_timer_.expires_at(launches_.front().at);
    pace_timer_.async_wait([this, self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      // One wake-up launches everything due within the next millisecond: the
      // rate over any second is unchanged, and at high rates the process does
      // not sleep and wake once per probe.
      const auto horizon = Clock::now() + std::chrono::milliseconds(1);
      while (!launches_.empty() && launches_.front().at <= horizon) {
        const auto l = launches_.front();
        launches_.pop_front();
        start_tcp(l.idx, l.number);
      }
      if (!launches_.empty()) arm_pace();
    });
  }

  void start_tcp(std::uint32_t idx, std::uint32_t number) {
    ++attempts_;
    const Target& t = targets_[idx];
    // The idle sockets are unbound; a probe with a source of its own gets a fresh socket.
    auto& idle = idle_[t.address.is_v4() ? 0 : 1];
    const int recycled = idle.empty() || !unbound(t) ? -1 : idle.back();
    if (recycled >= 0) idle.pop_back();
    auto begun = detail::start_connect(tcp::endpoint(t.address, t.port), recycled, t.source);
    if (begun.done) {
      finish_tcp(idx, number, std::move(*begun.done));
      return;
    }
    const std::uint32_t slot = take_slot();
    Attempt& a = slots_[slot];
    const std::uint64_t token = std::uint64_t{a.generation} << 32 | slot;
    if (auto ec = recycled >= 0 ? poller_.rewatch(begun.fd, token) : poller_.watch(begun.fd, token)) {
      ::close(begun.fd);
      free_.push_back(slot);
      Observation o;
      o.detail = "cannot watch the socket: " + ec.message();
      finish_tcp(idx, number, std::move(o));
      return;
    }
    a.fd = begun.fd;
    a.idx = idx;
    a.number = number;
    a.start = Clock::now();
    const std::uint32_t h = host_of_[idx];
    push_deadline({a.start + attempt_timeout(h), slot, a.generation});
    if (settings_.timing == Timing::adaptive && !hosts_[h].rtt.trusted()) {
      hosts_[h].untimed.emplace_back(slot, a.generation);
    }
    arm_deadline();
  }

  void on_writable(std::uint64_t token) {
    const auto slot = static_cast<std::uint32_t>(token);
    if (slot >= slots_.size() || slots_[slot].generation != token >> 32) return;  // that attempt has ended
    const Attempt& a = slots_[slot];
    const Target& t = targets_[a.idx];
    auto o = detail::finish_connect(a.fd, tcp::endpoint(t.address, t.port),
                                    std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - a.start));
    learn(a.idx, a.number, o);
    end_attempt(slot, std::move(o));
  }

  // Recycles the attempt's socket for the next connect, or closes it (which
  // also takes it out of the poller), and frees its slot before the result
  // is handled, so that a retry or the next probe can reuse both. Recycling
  // spares a socket(), setsockopt(), epoll_ctl(ADD) and close() per attempt.
  void end_attempt(std::uint32_t slot, Observation o) {
    Attempt& a = slots_[slot];
    if (o.reason == Reason::no_response) waited_[a.idx] += Clock::now() - a.start;
    if (unbound(targets_[a.idx]) && detail::recycle(a.fd, o)) {
      idle_[targets_[a.idx].address.is_v4() ? 0 : 1].push_back(a.fd);
    } else {
      ::close(a.fd);
    }
    a.fd = -1;
    ++a.generation;
    free_.push_back(slot);
    finish_tcp(a.idx, a.number, std::move(o));
  }

  void finish_tcp(std::uint32_t idx, std::uint32_t number, Observation o) {
    o.attempts = number + 1;
    if (from_icmp(o.reason)) note_icmp(host_of_[idx]);
    if (o.reason == Reason::no_response && number < retries_for(host_of_[idx])) {
      schedule_tcp(idx, number + 1);  // only silence is worth another try; the slot stays held
      return;
    }
    if (o.reason == Reason::no_response) o.waited = std::chrono::duration_cast<std::chrono::microseconds>(waited_[idx]);
    complete(idx, std::move(o));
  }

  // The timer wakes a millisecond after the first live deadline and handles
  // every deadline due by then, so it is re-armed at most once a millisecond
  // however many attempts start; an attempt times out at most that much late.
  // A deadline earlier than the one the timer waits for (adaptive timing)
  // re-arms it; the superseded wait's handler, aborted or already queued,
  // sees a newer wait number and does nothing.
  void arm_deadline() {
    while (!deadlines_.empty() && stale(deadlines_.front())) pop_deadline();
    if (deadlines_.empty()) return;
    const auto at = deadlines_.front().at + std::chrono::milliseconds(1);
    if (deadline_armed_ && armed_at_ <= at) return;
    deadline_armed_ = true;
    armed_at_ = at;
    const auto wait = ++deadline_wait_;
    deadline_timer_.expires_at(at);
    deadline_timer_.async_wait([this, self = shared_from_this(), wait](const boost::system::error_code& ec) {
      if (wait != deadline_wait_) return;
      if (!ec) {
        // An answer that is in but not read yet must not be taken for silence.
        poller_.drain([this](std::uint64_t token) { on_writable(token); });
        // Retries started from here queue their deadlines behind; the timer stays marked armed meanwhile.
        const auto now = Clock::now();
        while (!deadlines_.empty() && deadlines_.front().at <= now) {
          const Due d = pop_deadline();
          if (!stale(d)) end_attempt(d.slot, detail::silent_connect());
        }
      }
      deadline_armed_ = false;
      if (!ec) arm_deadline();
    });
  }

  void push_deadline(const Due& d) {
    deadlines_.push_back(d);
    std::push_heap(deadlines_.begin(), deadlines_.end(), later);
  }

  Due pop_deadline() {
    std::pop_heap(deadlines_.begin(), deadlines_.end(), later);
    const Due d = deadlines_.back();
    deadlines_.pop_back();
    return d;
  }

  // --- adaptive timing -----------------------------------------------------

  // How long an attempt to host h that starts now waits for an answer.
  [[nodiscard]] Clock::duration attempt_timeout(std::uint32_t h) const noexcept {
    if (settings_.timing == Timing::fixed) return settings_.timeout;
    return hosts_[h].rtt.timeout();
  }

  // How many retries a silent TCP port of address h gets: the configured ones, and with adaptive
  // timing one more once the run has shown loss (an answered retry widened an estimate: this
  // address's, now or in an earlier batch, or any other's), so that an answer lost twice in a row
  // does not pass for a filtered port. Any other's, because loss on one path is likely on a
  // shared stretch of others, and an address's own first sign of loss often comes too late for
  // its own ports (1k with 3% loss: 99.8% right with the address's own sign only, in one run of
  // three). The price is one short attempt more per silent port. nmap raises its
  // retransmissions when it sees drops in the same way.
  [[nodiscard]] std::uint32_t retries_for(std::uint32_t h) const noexcept {
    const bool lossy = settings_.timing == Timing::adaptive && settings_.retries > 0 &&
                       (widened_ > 0 || hosts_[h].rtt.widening() > 1);
    return settings_.retries + (lossy ? 1U : 0U);
  }

  // An answer from the network (not a local error, not silence) is a round-trip sample.
  static bool answered(const Observation& o) noexcept {
    if (!o.rtt) return false;
    return o.reason == Reason::syn_ack || o.reason == Reason::conn_refused || o.reason == Reason::udp_response ||
           from_icmp(o.reason);
  }

  // Feeds attempt number `number` of target idx, as it ends, to its address's estimate.
  void learn(std::uint32_t idx, std::uint32_t number, const Observation& o) {
    if (settings_.timing == Timing::fixed || !answered(o)) return;
    const std::uint32_t h = host_of_[idx];
    auto& rtt = hosts_[h].rtt;
    const bool was_trusted = rtt.trusted();
    rtt.observe(*o.rtt);
    // A retry answered: the attempt before it met silence, from loss or from a timeout too tight.
    // Not a UDP port unreachable: silence before one is the target's ICMP rate limit (the budget's
    // business), not the path.
    const bool rate_limited = targets_[idx].protocol == Protocol::udp && from_icmp(o.reason);
    if (number > 0 && !rate_limited) {
      rtt.widen();
      ++widened_;
    }
    if (!was_trusted && rtt.trusted()) tighten(h);
  }

  // Host h's estimate has just become trusted: its TCP attempts in flight,
  // which were started with the full timeout, get a deadline from it too.
  void tighten(std::uint32_t h) {
    auto untimed = std::move(hosts_[h].untimed);
    hosts_[h].untimed = {};
    const auto timeout = hosts_[h].rtt.timeout();
    if (timeout >= settings_.timeout) return;
    for (const auto& [slot, generation] : untimed) {
      const Attempt& a = slots_[slot];
      if (a.generation != generation) continue;  // that attempt has ended
      push_deadline({a.start + timeout, slot, generation});
    }
    arm_deadline();
  }

  void close_idle() noexcept {
    for (auto& idle : idle_) {
      for (const int fd : idle) ::close(fd);
      idle.clear();
    }
  }

  static bool unbound(const Target& t) noexcept { return t.source == nullptr || t.source->empty(); }

  [[nodiscard]] bool stale(const Due& d) const noexcept { return slots_[d.slot].generation != d.generation; }

  std::uint32_t take_slot() {
    if (!free_.empty()) {
      const auto s = free_.back();
      free_.pop_back();
      return s;
    }
    slots_.emplace_back();
    return static_cast<std::uint32_t>(slots_.size() - 1);
  }

  // --- other protocols: one coroutine per probe ----------------------------

  asio::awaitable<void> pace() {
    const auto now = Clock::now();
    next_send_ = std::max(next_send_, now);
    const auto mine = next_send_;
    next_send_ += interval_;
    if (mine > now) {
      asio::steady_timer t(ex_, mine);
      co_await t.async_wait(asio::use_awaitable);
    }
  }

  static bool from_icmp(Reason r) noexcept {
    switch (r) {
      case Reason::port_unreach: case Reason::host_unreach: case Reason::net_unreach: case Reason::proto_unreach:
      case Reason::admin_prohibited: case Reason::host_prohibited: case Reason::net_prohibited:
      case Reason::time_exceeded:
        return true;
      default: return false;
    }
  }

  // UDP and ICMP; TCP never comes here (pump() sends it down the fast path).
  asio::awaitable<Observation> probe(std::uint32_t idx) {
    if (targets_[idx].protocol == Protocol::icmp) co_return co_await probe_icmp(idx);
    co_return co_await probe_udp(idx);
  }

  // ICMP: one echo check; its `echo_count` requests are its attempts, and it is never retried.
  asio::awaitable<Observation> probe_icmp(std::uint32_t idx) {
    const Target& t = targets_[idx];
    if (interval_ != Clock::duration::zero()) co_await pace();
    attempts_ += t.echo_count;
    EchoOptions options;
    options.count = t.echo_count;
    options.timeout = settings_.timeout;
    options.source = t.source;
    co_return co_await icmp_echo(t.address, options);
  }

  // UDP: only silence is retried, and silence only counts once at least one
  // attempt was sent when the target's ICMP error limiter was sure to hold a
  // token (see icmp_error_budget.hpp, shared_icmp_limiter.hpp): a closed port
  // then always shows. A token guaranteed by the address's own budget only
  // counts if the address has a limiter of its own (own_limiter()).
  asio::awaitable<Observation> probe_udp(std::uint32_t idx) {
    const Target& t = targets_[idx];
    const std::uint32_t h = host_of_[idx];
    Host& host = hosts_[h];  // hosts_ is never resized during the run
    Observation o;
    bool guaranteed = false;
    Clock::duration waited{};
    for (std::uint32_t attempt = 0;; ++attempt) {
      if (interval_ != Clock::duration::zero()) co_await pace();
      // Its vantage was found to share a limiter, and nothing says this address has its own.
      if (host.budget && host.limiter == Host::Limiter::unknown && vantage_of(h).shared_found) join(h);
      detail::SharedIcmpLimiter* shared = host.limiter == Host::Limiter::shared ? vantage_of(h).shared.get() : nullptr;
      detail::IcmpErrorBudget::Ticket ticket;
      std::uint64_t shared_ticket = 0;
      if (shared != nullptr) {
        shared_ticket = co_await shared->acquire(error_window(h), give_up_);
        if (shared_ticket == 0) co_return rate_limited(idx, attempt);
      } else if (host.budget) {
        ticket = co_await host.budget->acquire(attempt == 0, give_up_);
        if (ticket.given_up) co_return rate_limited(idx, attempt);
      }
      ++attempts_;
      const bool loose = shared == nullptr && host.budget && host.limiter == Host::Limiter::unknown;
      if (loose) ++vantage_of(h).loose;
      const auto timeout = std::chrono::ceil<std::chrono::milliseconds>(attempt_timeout(h));
      o = co_await send_udp(idx, timeout);
      o.attempts = attempt + 1;
      if (o.reason == Reason::no_response) waited += timeout;
      learn(idx, attempt, o);
      if (host.budget) {
        if (shared == nullptr) {
          host.budget->settle(ticket, spent_no_token(o));
        }
        settle_vantage(h, shared_ticket, loose, error_rtt(o));
      }
      if (o.reason == Reason::port_unreach) co_await canary(h, idx);
      if (o.reason != Reason::no_response) break;
      guaranteed = guaranteed || ticket.guaranteed;  // an attempt under `shared` always is
      if (attempt < settings_.retries || !guaranteed) continue;
      if (shared != nullptr || !host.budget || !t.confirm_silence) break;
      const auto own = co_await own_limiter(h);
      if (!own) co_return rate_limited(idx, attempt + 1);
      if (*own) break;
      guaranteed = false;  // the address shares its limiter: confirm through the vantage's
    }
    if (o.reason == Reason::no_response) o.waited = std::chrono::duration_cast<std::chrono::microseconds>(waited);
    co_return o;
  }

  Vantage& vantage_of(std::uint32_t h) { return *vantages_[hosts_[h].vantage]; }

  // One UDP attempt to target idx with its payload (or the registry's choice).
  asio::awaitable<Observation> send_udp(std::uint32_t idx, std::chrono::milliseconds timeout) {
    const Target& t = targets_[idx];
    co_return co_await udp_attempt(t.address, t.port, t.payload != nullptr ? *t.payload : kRegistryChoice, timeout,
                                   seed_(), t.source);
  }

  // A UDP reply, or a send that never left this host: the target spent no ICMP error token on it.
  static bool spent_no_token(const Observation& o) noexcept {
    return o.reason == Reason::udp_response || o.reason == Reason::local_error;
  }

  static std::optional<Clock::duration> error_rtt(const Observation& o) {
    if (!from_icmp(o.reason)) return std::nullopt;
    return o.rtt.value_or(std::chrono::microseconds::zero());
  }

  // How long an attempt to address h under a shared model holds a token back: an ICMP error comes
  // back within a round trip, so a few of the slowest seen (and never less than 50 ms) and it is
  // not coming; the attempt itself may wait longer for a UDP reply, which spends no token.
  [[nodiscard]] Clock::duration error_window(std::uint32_t h) {
    const Vantage& v = vantage_of(h);
    const auto full = attempt_timeout(h);
    if (v.slowest_error == Clock::duration::zero()) return full;
    return std::min(full, std::max<Clock::duration>(3 * v.slowest_error + std::chrono::milliseconds(20),
                                                    std::chrono::milliseconds(50)));
  }

  // Silence the time budget left unconfirmed; `attempts` were sent.
  Observation rate_limited(std::uint32_t idx, std::uint32_t attempts) {
    ++icmp_ratelimited_;
    Observation o;
    o.address = targets_[idx].address.to_string();
    o.state = PortState::open_filtered;
    o.reason = Reason::icmp_ratelimited;
    o.attempts = attempts;
    o.detail = "unconfirmed: the target's ICMP error rate limit held no token before the time budget ran out, "
               "so a closed port would have looked the same";
    return o;
  }

  // An ICMP error came from address h to a TCP probe: its budgets paid for it too.
  void note_icmp(std::uint32_t h) {
    if (auto& budget = hosts_[h].budget; budget) {
      budget->note_icmp();
      settle_vantage(h, 0, false, Clock::duration::zero());
    }
  }

  // A UDP attempt to address h (`shared_ticket`: let go by the vantage's shared model; `loose`:
  // counted in Vantage::loose), or any other probe of it, has ended; `error`: it drew an ICMP error
  // after that round trip.
  void settle_vantage(std::uint32_t h, std::uint64_t shared_ticket, bool loose,
                      std::optional<Clock::duration> error) {
    Vantage& v = vantage_of(h);
    const auto now = Clock::now();
    const bool icmp = error.has_value();
    if (icmp) {
      v.everyone.spend(now);
      v.slowest_error = std::max(v.slowest_error, *error);
    }
    if (loose) --v.loose;
    if (shared_ticket != 0) {
      v.shared->settle(shared_ticket, icmp, now);
    } else if (v.shared && hosts_[h].limiter != Host::Limiter::own) {
      if (loose) v.shared->settle_outside(icmp, now);
      else if (icmp) v.shared->note_icmp(now);
    } else if (v.shared && loose) {
      v.shared->settle_outside(false, now);  // own limiter: only its hold on a token ends
    }
  }

  void join(std::uint32_t h) {
    Host& host = hosts_[h];
    if (host.limiter != Host::Limiter::unknown) return;
    host.limiter = Host::Limiter::shared;
    ++shared_addresses_;
    Vantage& v = vantage_of(h);
    // Its history is unknown (every address of it may have spent tokens): it starts empty.
    if (!v.shared) v.shared = std::make_unique<detail::SharedIcmpLimiter>(ex_, v.interval, kIcmpBurst, &v.loose);
  }

  // Address h has just drawn a port unreachable on target idx: once per address (of a vantage
  // with others, while no shared limiter was found), probe that port again when the address's own
  // budget guarantees a token. Its error comes back only if nothing else spent the bucket.
  asio::awaitable<void> canary(std::uint32_t h, std::uint32_t idx) {
    Host& host = hosts_[h];
    Vantage& v = vantage_of(h);
    if (!host.budget || host.canary || host.limiter != Host::Limiter::unknown || v.addresses < 2 || v.shared_found) {
      co_return;
    }
    host.canary = true;
    ++v.canaries;
    ++canaries_made_;
    struct Done {  // the vantage hears of the end however it comes (a cancelled run throws)
      Vantage& v;
      ~Done() {
        --v.canaries;
        v.settled.cancel();
      }
    } done{v};
    const auto ticket = co_await host.budget->acquire(false, give_up_);
    if (ticket.given_up) {
      v.undecided = true;  // the time budget ran out before the test could be made
      co_return;
    }
    ++attempts_;
    ++v.loose;
    const auto o = co_await send_udp(idx, std::chrono::ceil<std::chrono::milliseconds>(attempt_timeout(h)));
    host.budget->settle(ticket, spent_no_token(o));
    // Would one bucket for the whole vantage have held a token for this answer? (before its spend)
    const bool conclusive = v.everyone.level(Clock::now()) < 1.0;
    settle_vantage(h, 0, true, error_rtt(o));
    if (o.reason == Reason::port_unreach) {
      if (conclusive && host.limiter == Host::Limiter::unknown) host.limiter = Host::Limiter::own;
    } else if (o.reason == Reason::no_response) {
      v.shared_found = true;
      join(h);
    }
  }

  // Does address h spend an ICMP error limiter of its own? True once its canary said so, or when
  // nothing in its vantage says otherwise; false once a shared one was found (h then joins it).
  // Waits for canaries under way; nullopt if the time budget ran out meanwhile, or cut one short.
  asio::awaitable<std::optional<bool>> own_limiter(std::uint32_t h) {
    Host& host = hosts_[h];
    Vantage& v = vantage_of(h);
    for (;;) {
      if (host.limiter == Host::Limiter::own) co_return true;
      if (host.limiter == Host::Limiter::shared) co_return false;
      if (v.shared_found) {
        join(h);
        co_return false;
      }
      // A test that the time budget cut short leaves the question open: silence is not confirmed.
      if (v.canaries == 0) co_return v.undecided ? std::nullopt : std::optional<bool>(true);
      if (Clock::now() >= give_up_) co_return std::nullopt;
      co_await until(give_up_, v.settled.async_wait(asio::as_tuple(asio::deferred)));
      const auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) {
        throw boost::system::system_error(asio::error::operation_aborted);
      }
    }
  }

  asio::any_io_executor ex_;
  std::span<const Target> targets_;
  Settings settings_;
  std::uint32_t cap_;
  ResultSink sink_;
  detail::Latch latch_;
  std::vector<Host> hosts_;
  std::vector<std::uint32_t> host_of_;
  std::deque<std::uint32_t> ready_;
  std::uint32_t inflight_ = 0;
  std::uint64_t attempts_ = 0;
  bool pumping_ = false;
  bool pump_posted_ = false;
  Clock::duration interval_{};
  Clock::time_point next_send_{};
  detail::TcpPoller poller_;
  std::vector<Attempt> slots_;
  std::array<std::vector<int>, 2> idle_;  // recycled sockets, IPv4 and IPv6, ready to connect again
  std::vector<std::uint32_t> free_;
  std::vector<Due> deadlines_;  // a min-heap by `at`
  asio::steady_timer deadline_timer_;
  bool deadline_armed_ = false;
  Clock::time_point armed_at_{};
  std::uint64_t deadline_wait_ = 0;  // numbers the timer's waits; only the latest one's handler acts
  std::deque<Launch> launches_;
  asio::steady_timer pace_timer_;
  std::mt19937_64 seed_{std::random_device{}()};  // IDs and cookies of UDP requests
  std::vector<std::unique_ptr<asio::cancellation_signal>> signals_;  // per UDP/ICMP target, made at its launch
  bool cancelled_ = false;
  std::uint64_t not_probed_ = 0;
  std::uint64_t widened_ = 0;
  std::vector<Clock::duration> waited_;  // TCP: per target, the time its silent attempts were waited for
  std::vector<std::unique_ptr<Vantage>> vantages_;
  Clock::time_point give_up_ = Clock::time_point::max();  // --time-budget
  std::uint32_t shared_addresses_ = 0;
  std::uint32_t canaries_made_ = 0;
  std::uint64_t icmp_ratelimited_ = 0;
};

}  // namespace

asio::awaitable<void> probe_all(std::span<const Target> targets, Settings settings, ResultSink sink,
                                RunStats* stats) {
  if (targets.empty()) co_return;
  settings.per_host_concurrency = std::max<std::uint32_t>(settings.per_host_concurrency, 1);
  const std::uint32_t cap = std::max<std::uint32_t>(1, std::min(settings.concurrency, fd_budget()));
  auto d = std::make_shared<Dispatcher>(co_await asio::this_coro::executor, targets, settings, cap, std::move(sink));
  co_await d->run();
  d->remember();
  if (stats != nullptr) {
    stats->concurrency = cap;
    stats->attempts = d->attempts();
    stats->not_probed = d->not_probed_count();
    d->timing_stats(*stats);
  }
}

asio::awaitable<std::vector<Observation>> probe_all(std::span<const Target> targets, Settings settings,
                                                    RunStats* stats) {
  std::vector<Observation> results(targets.size());
  co_await probe_all(
      targets, settings, [&results](std::size_t i, Observation&& o) { results[i] = std::move(o); }, stats);
  co_return results;
}

}  // namespace portdrift::probe
