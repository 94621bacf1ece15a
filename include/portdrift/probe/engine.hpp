#pragma once
// The probe engine: the only module that does network I/O. It connects to
// each target at most retries+1 times, each attempt under its own deadline,
// and turns the outcome into an nmap-style state and reason. Concurrency is
// bounded globally, per target address, by a packets-per-second pace, and by
// the process's open-file limit (raised soft -> hard at start, with a margin).
// With adaptive timing, each address's answers during the run set how long a
// silent attempt to it is waited for, within the configured timeout.
// Targets are taken round-robin across addresses, never one host's ports in a
// burst; where every probe fits under the caps, those expected to be silent
// start early, since they hold the run longest. No thread per probe:
// everything runs on the caller's io_context.
//
// Cancellation: probe_all honours the awaiting coroutine's cancellation slot.
// On terminal cancellation no probe starts any more, in-flight probes are
// cancelled (UDP and ICMP coroutines through their own slots, the TCP fast
// path's sockets closed), every target that has no result yet gets
// not_probed(), and probe_all returns once every probe has ended.
//
// It must not: probe anything it was not given, retry an answered probe, or
// turn a refused connect or a timeout into an exception.

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include "portdrift/core/observation.hpp"
#include "portdrift/core/types.hpp"
#include "portdrift/payloads/payloads.hpp"
#include "portdrift/probe/source.hpp"

namespace portdrift::probe {

class RttMemory;

struct Settings {
  std::chrono::milliseconds timeout{1000};  // per attempt; with adaptive timing, the most an attempt waits
  // adaptive: a silent TCP or UDP attempt is given up after what the address's round trips justify
  // (src/probe/rtt_estimator.hpp), never sooner than min_timeout nor later than timeout.
  Timing timing = Timing::fixed;
  std::chrono::milliseconds min_timeout{100};
  std::uint32_t retries = 1;                // extra attempts after silence only
  std::uint32_t concurrency = 256;
  std::uint32_t per_host_concurrency = 4;
  std::uint32_t max_rate = 500;             // attempts per second; 0 = unpaced
  // udp: how long attempts may wait, from the start of the run, for a target's ICMP error rate
  // limiter to hold a token; a silent port still unconfirmed then ends as open|filtered with reason
  // icmp-ratelimited. 0: no limit (every silent port is confirmed, however long the limiter takes).
  std::chrono::milliseconds time_budget{0};
  // Host number h starts at its ((h + rotation) mod n)-th port: a daemon turns it per batch, so
  // the ports a time budget leaves unconfirmed are others the next time.
  std::uint32_t rotation = 0;
  // adaptive: estimates to start from and to store into (must outlive the run); null: none.
  RttMemory* rtt_memory = nullptr;
};

// Adaptive timing across runs: what one run learnt of each address's round trips, for the next
// (the daemon keeps one for its batches; --check starts from nothing). A run that is given one
// starts each address from its remembered estimate, with at least half its smoothed RTT as
// variance (a path that slowed since is met with a wider wait) and half its widening, and stores
// what it ends with. One run at a time.
class RttMemory {
 public:
  using Clock = std::chrono::steady_clock;
  struct Estimate {
    Clock::duration srtt{}, rttvar{};
    std::uint32_t samples = 0;
    std::uint32_t widen = 1;
    Clock::time_point at{};  // when a run last stored it
  };
  [[nodiscard]] const Estimate* find(const boost::asio::ip::address& a) const {
    const auto it = entries_.find(a);
    return it == entries_.end() ? nullptr : &it->second;
  }
  void store(const boost::asio::ip::address& a, const Estimate& e) { entries_[a] = e; }
  // Forgets the addresses no run has stored since `before`.
  void forget_before(Clock::time_point before) {
    std::erase_if(entries_, [before](const auto& e) { return e.second.at < before; });
  }
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

 private:
  std::unordered_map<boost::asio::ip::address, Estimate> entries_;
};

struct Target {
  Target() = default;
  Target(boost::asio::ip::address a, std::uint16_t p, Protocol proto = Protocol::tcp)
      : address(std::move(a)), port(p), protocol(proto) {}

  boost::asio::ip::address address;
  std::uint16_t port = 0;
  Protocol protocol = Protocol::tcp;
  const payloads::Choice* payload = nullptr;  // udp: what to send (must outlive the run); null = the registry's choice
  std::uint32_t echo_count = 3;    // icmp: echo requests per check
  // udp: how often the target may send an ICMP error (Linux: net.ipv4.icmp_ratelimit); UDP attempts
  // to the address are paced so that a closed port still gets its port unreachable. 0: no pacing.
  std::chrono::milliseconds icmp_ratelimit{1000};
  // udp: whether silence must be confirmed (told from a closed port behind a spent ICMP limiter).
  // False where closed and open|filtered mean the same to the check (expect: blocked).
  bool confirm_silence = true;
  // A hint: the check expects no answer (filtered, blocked, unreachable). A silent probe holds the
  // run for all its attempts, so where every probe fits under the caps such TCP and ICMP targets
  // start early, after the few answered probes of their address that adaptive timing needs to
  // trust an estimate. Order only; never what is probed.
  bool silence_expected = false;
  const Source* source = nullptr;  // where probes leave from (must outlive the run); null = the kernel's choice
};

struct RunStats {
  std::uint32_t concurrency = 0;  // effective global cap after the fd limit
  std::uint64_t attempts = 0;
  std::uint64_t not_probed = 0;  // targets a cancellation left without an observation
  // Adaptive timing, at the end of the run: how many addresses had a trusted estimate, the
  // give-up time it gave them (least, median, most), and how many answered retries widened one.
  std::uint32_t trusted_addresses = 0;
  std::chrono::microseconds give_up_min{0}, give_up_median{0}, give_up_max{0};
  std::uint64_t widened = 0;
  // UDP and ICMP rate limiters: addresses found to share one limiter with others (per vantage:
  // source address and family), the probes that tested it, and the silent ports left unconfirmed
  // when the time budget ran out (reason icmp-ratelimited).
  std::uint32_t shared_limiter_addresses = 0;
  std::uint32_t limiter_canaries = 0;
  std::uint64_t icmp_ratelimited = 0;
};

// What a probe that was cancelled before it ended reports: state unknown,
// reason not-probed. It is no observation of the network; never judge it as one.
Observation not_probed(std::string address = {});

// Raises RLIMIT_NOFILE's soft limit to the hard one and returns how many
// probes may be in flight while keeping `reserve` descriptors free.
std::uint32_t fd_budget(std::uint32_t reserve = 64) noexcept;

// Called once per target as its probe ends, with the target's index; the
// engine keeps no observation of its own, so the caller stores each where it
// belongs.
using ResultSink = std::function<void(std::size_t index, Observation&& observation)>;

// Probes every target and hands each observation to `sink`.
boost::asio::awaitable<void> probe_all(std::span<const Target> targets, Settings settings, ResultSink sink,
                                       RunStats* stats = nullptr);

// Probes every target; observations come back in the targets' order.
boost::asio::awaitable<std::vector<Observation>> probe_all(std::span<const Target> targets, Settings settings,
                                                           RunStats* stats = nullptr);

// One TCP connect attempt with a deadline (exposed for tests).
boost::asio::awaitable<Observation> tcp_attempt(boost::asio::ip::address address, std::uint16_t port,
                                                std::chrono::milliseconds timeout, const Source* source = nullptr);

}  // namespace portdrift::probe
