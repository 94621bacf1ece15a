#pragma once
// How long a silent attempt to one target address is waited for, learnt from
// that address's answers during the run (`timing: adaptive`).
//
// Every answer the network gives to a probe of the address (SYN-ACK, RST, an
// ICMP error, a UDP reply) is a round-trip sample. The samples are smoothed
// as RFC 6298 (section 2) does for TCP's retransmission timer:
//
//   first sample R:  srtt = R, rttvar = R/2
//   later samples:   rttvar = 3/4 rttvar + 1/4 |srtt - R|,  srtt = 7/8 srtt + 1/8 R
//
// and a silent attempt is given up after
//
//   clamp(widen * (srtt + k * rttvar), floor, ceiling)
//
// where the ceiling is the configured timeout T (`timeout_ms`, which stays the
// most any attempt waits) and the floor is a minimum below which a reading of
// silence is not trusted (nmap's --min-rtt-timeout plays this part). Until
// `trust_after` samples are in, the estimate is not trusted and the answer is
// the ceiling: no attempt is cut short on one lucky sample.
//
// Loss must not become drift: when an attempt that was given up as silent is
// followed by an answered retry of the same port, the first attempt may have
// been cut short by an estimate too tight for this path, or the packet was
// lost; either way `widen` doubles (up to `max_widen`), so later silent
// attempts to the address wait longer. It is not narrowed again within a run.
// Rising round trips (a host that slows under congestion) raise srtt and, more
// quickly, rttvar, before later silent attempts are judged.
//
// No clock of its own: the caller measures each sample and asks for the
// deadline of an attempt it sent at a time of its clock, so tests control
// time completely.

#include <chrono>
#include <cstdint>

namespace portdrift::probe::detail {

class RttEstimator {
 public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;

  struct Params {
    Duration floor = std::chrono::milliseconds(100);
    Duration ceiling = std::chrono::seconds(1);  // the configured timeout T
    std::uint32_t k = 4;                        // RFC 6298's K
    std::uint32_t trust_after = 3;              // samples before the estimate is used
    std::uint32_t max_widen = 8;
  };

  explicit RttEstimator(Params p) noexcept;

  // One answer's round trip.
  void observe(Duration rtt) noexcept;
  // A retry was answered after an attempt of the same port met silence.
  void widen() noexcept;
  // Picks up where an earlier run's estimate of the address left off (RttMemory).
  void restore(Duration srtt, Duration rttvar, std::uint32_t samples, std::uint32_t widen) noexcept;

  // How long a silent attempt sent now is waited for.
  [[nodiscard]] Duration timeout() const noexcept;
  [[nodiscard]] TimePoint deadline(TimePoint sent) const noexcept { return sent + timeout(); }

  [[nodiscard]] bool trusted() const noexcept { return samples_ >= params_.trust_after; }
  [[nodiscard]] std::uint32_t samples() const noexcept { return samples_; }
  [[nodiscard]] Duration srtt() const noexcept { return srtt_; }
  [[nodiscard]] Duration rttvar() const noexcept { return rttvar_; }
  [[nodiscard]] std::uint32_t widening() const noexcept { return widen_; }

 private:
  Params params_;
  Duration srtt_{};
  Duration rttvar_{};
  std::uint32_t samples_ = 0;
  std::uint32_t widen_ = 1;
};

}  // namespace portdrift::probe::detail
