#pragma once
// Pacing UDP probes of many addresses that share one ICMP error rate limiter.
//
// Linux keeps its ICMP error bucket per *destination* (the scanner), not per
// source address: every address of one kernel (a multi-homed server, a
// router answering for a subnet, a load balancer's pool) spends the same
// bucket of six tokens, refilled at one per `net.ipv4.icmp_ratelimit`. The
// engine finds such addresses (docs/udp.md, "Addresses that share one limiter")
// and paces them together through this model of that bucket:
//
//   - The bucket's level is known from what was seen: it refills at one
//     token per `interval` (plus a margin for jiffies and timers) up to
//     `burst`, and an ICMP error that came back spent one. Silence and UDP
//     replies spent nothing. The history before the model existed is
//     unknown, so it starts empty.
//   - An attempt may go when the level, less one token for every attempt
//     that may yet draw an error, holds a whole token: whatever those
//     attempts do, this one finds a token, so a closed port shows as closed.
//     An attempt holds its token back for `hold` only (a few round trips:
//     an error that has not come back by then was never sent), though it
//     may wait longer for a UDP reply, which spends nothing. Every attempt
//     under this model is such a guaranteed one; silent ports are confirmed
//     while the bucket refills, several at a time.
//   - `give_up`: an attempt that has found no token by then gets none
//     (--time-budget); the port is reported icmp-ratelimited.
//
// Waiting works as in IcmpErrorBudget: until() on the time the next token is
// due, or on `changed_`, a timer that never expires and is cancelled to wake
// every waiter. Nothing here points into a waiting coroutine.
//
// It must not: let two attempts count on one token, or count silence as a
// spent token (that would pace silent ports at the limiter's rate).

#include <chrono>
#include <cstdint>
#include <map>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace portdrift::probe::detail {

// A Linux ICMP error bucket as far as what was seen tells: it refills at one token per `spacing`
// up to `burst`, and every ICMP error that came back spent one. Pure arithmetic, no clock.
class IcmpBucket {
 public:
  using Clock = std::chrono::steady_clock;
  IcmpBucket(Clock::duration spacing, std::uint32_t burst, double level, Clock::time_point at) noexcept;
  [[nodiscard]] double level(Clock::time_point at) const noexcept;
  // An error came back at `at`. Below zero the model was too hopeful (an error it never saw, a
  // clock a jiffy off): the bucket is empty now, whatever it thought.
  void spend(Clock::time_point at) noexcept;
  [[nodiscard]] Clock::duration spacing() const noexcept { return spacing_; }
  [[nodiscard]] double burst() const noexcept { return burst_; }

 private:
  Clock::duration spacing_;
  double burst_;
  double level_;  // tokens at `at_`
  Clock::time_point at_;
};

class SharedIcmpLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `outside`: attempts in flight to these addresses that were not let go by this model (the
  // engine's count; each may yet spend a token, so each holds one back).
  SharedIcmpLimiter(boost::asio::any_io_executor ex, Clock::duration interval, std::uint32_t burst,
                    const std::uint32_t* outside = nullptr, Clock::time_point start = Clock::now());

  // Waits for a token no attempt in flight can take, and reserves it for `hold` from now: a ticket
  // (never 0), or 0 when `give_up` comes first. Throws operation_aborted when the waiting coroutine
  // is cancelled.
  boost::asio::awaitable<std::uint64_t> acquire(Clock::duration hold,
                                                Clock::time_point give_up = Clock::time_point::max());
  // The attempt of `ticket` has ended; `icmp`: it drew an ICMP error (a spent token).
  void settle(std::uint64_t ticket, bool icmp, Clock::time_point at = Clock::now());
  // An attempt counted in `outside` has ended; `icmp`: it drew an ICMP error.
  void settle_outside(bool icmp, Clock::time_point at = Clock::now());
  // An ICMP error from one of the addresses that no attempt of this model asked for.
  void note_icmp(Clock::time_point at = Clock::now());

  // Tokens in the bucket at `at`, as far as the model knows (not counting attempts in flight).
  [[nodiscard]] double level(Clock::time_point at) const noexcept { return bucket_.level(at); }
  // Reservations still holding a token back at `at`.
  [[nodiscard]] std::uint32_t held(Clock::time_point at) const noexcept;
  [[nodiscard]] Clock::duration spacing() const noexcept { return bucket_.spacing(); }

 private:
  IcmpBucket bucket_;
  const std::uint32_t* outside_;
  std::map<std::uint64_t, Clock::time_point> holds_;  // ticket -> until when it holds a token back
  std::uint64_t next_ticket_ = 1;
  boost::asio::steady_timer changed_;  // cancelled when a token may have come free
};

}  // namespace portdrift::probe::detail
