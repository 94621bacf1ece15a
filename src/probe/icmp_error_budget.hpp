#pragma once
// Pacing UDP probes against a target's ICMP error rate limit.
//
// Linux sends at most one ICMP error per `net.ipv4.icmp_ratelimit` (1000 ms)
// to each destination, from a bucket that holds six. A UDP probe of a closed
// port that meets an empty bucket gets silence, and would be misread as
// open|filtered (nmap -sU misreads about a third of closed ports this way).
// This budget, one per target address, makes every UDP port get at least one
// *guaranteed* attempt: one sent at least `interval` after the last attempt
// that may have drawn an ICMP error from that target. Whatever the bucket
// held before, it has refilled by one token by then, so a closed port is
// seen as closed.
//
//   - A guaranteed attempt waits for its gate: the latest send that may have
//     used a token, plus the interval (and a small margin for timer and
//     jiffy granularity). At the start of a run the history is unknown, so
//     the run's start counts as such a send.
//   - An attempt that got a UDP reply used no token: it is struck from the
//     record, which can open the gate sooner (waiters are woken).
//   - A first attempt may go at once while the `burst` lasts (a bucket that
//     was left alone is full); if it meets silence, its retry is guaranteed.
//   - ICMP errors that other probes of the target saw (TCP through a reject
//     rule) are recorded too: they came out of the same bucket.
// interval 0 turns all of this off (the target does not rate-limit).
//
// Waiting: an attempt waits through until() (portdrift/core/deadline.hpp) for
// its gate or for `changed_`, one timer of the budget's own that never expires
// and is cancelled to wake every waiter. The budget holds no pointer into a
// waiting coroutine, so a waiter that is cancelled or destroyed leaves
// nothing behind.

#include <chrono>
#include <cstdint>
#include <map>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace portdrift::probe::detail {

// The time between ICMP error tokens to count on for a target that sends one per `interval`.
// Linux counts tokens in jiffies (4 ms at HZ=250) and our timers wake a little late or early:
// 2% and 5 ms more than the interval keep a send from arriving one jiffy short of its token.
std::chrono::steady_clock::duration icmp_spacing(std::chrono::steady_clock::duration interval) noexcept;

class IcmpErrorBudget {
 public:
  using Clock = std::chrono::steady_clock;

  struct Ticket {
    std::uint64_t id = 0;
    bool guaranteed = true;
    bool given_up = false;  // `give_up` came before the gate opened: nothing was sent
  };

  IcmpErrorBudget(boost::asio::any_io_executor ex, Clock::duration interval, std::uint32_t burst,
                  Clock::time_point start = Clock::now());

  // Waits until an attempt may be sent and records it. `may_burst`: a first attempt. An attempt
  // still waiting for its gate at `give_up` (--time-budget) gets a ticket that is given up.
  boost::asio::awaitable<Ticket> acquire(bool may_burst, Clock::time_point give_up = Clock::time_point::max());
  // The attempt is over; `no_icmp` when it got a UDP reply (or never left this host).
  void settle(const Ticket& t, bool no_icmp);
  // Another probe of this target received an ICMP error from it just now.
  void note_icmp(Clock::time_point at = Clock::now());

  // The spacing actually kept between guaranteed attempts (interval plus margin).
  [[nodiscard]] Clock::duration spacing() const noexcept { return spacing_; }
  [[nodiscard]] Clock::time_point gate() const;

 private:
  void wake_all();

  Clock::duration spacing_;
  std::uint32_t burst_left_;
  Clock::time_point floor_;                            // unknown history: counts as a send at the start
  std::map<std::uint64_t, Clock::time_point> sends_;  // attempts that may have used a token
  std::uint64_t next_id_ = 1;
  boost::asio::steady_timer changed_;  // cancelled when the gate may have moved earlier
};

}  // namespace portdrift::probe::detail
