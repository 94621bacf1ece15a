// The lifecycle contract of the probe module: one deadline (until()) that is
// safe when expiry and completion land in one loop pass, cancellation carried
// from the awaiting coroutine into every probe kind, and worker threads that
// never touch an io_context that is gone. Loopback only. Run these under the
// ASan build, repeatedly (--gtest_repeat=200): a handler that touches a
// finished coroutine's memory fails the run there.

#include <gtest/gtest.h>

#include <dirent.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <future>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "portdrift/core/deadline.hpp"
#include "portdrift/probe/engine.hpp"
#include "portdrift/probe/icmp.hpp"
#include "portdrift/probe/resolve.hpp"
#include "portdrift/probe/udp.hpp"
#include "portdrift/runner/runner.hpp"
#include "probe/icmp_error_budget.hpp"

namespace portdrift::probe {
namespace {
namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const auto kLoopback = asio::ip::make_address("127.0.0.1");

// Runs the loop until `done` holds, in slices; fails the test after `limit`.
template <typename Pred>
bool run_until(asio::io_context& io, Pred done, std::chrono::milliseconds limit = 5000ms) {
  const auto end = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() > end) return false;
    io.restart();
    io.run_for(1ms);
  }
  return true;
}

std::size_t open_fds() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

// Waits (poll, no sleep) until `fd` has something to read.
bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 5000) == 1;
}

// Something (maybe an empty datagram) is waiting on `fd` now.
bool pending(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

// --- the deadline ----------------------------------------------------------

// The datagram is queued before the wait begins and the deadline has already
// passed: both completions land in the same pass. The answer must be kept.
TEST(Deadline, ExpiryAndCompletionInOnePassKeepTheResult) {
  asio::io_context io;
  udp::socket rx(io, udp::endpoint(kLoopback, 0));
  udp::socket tx(io, udp::endpoint(kLoopback, 0));
  int kept = 0;
  for (int i = 0; i < 200; ++i) {
    const std::array<std::uint8_t, 3> hello{1, 2, 3};
    tx.send_to(asio::buffer(hello), rx.local_endpoint());
    ASSERT_TRUE(readable(rx.native_handle()));
    std::optional<Timed<std::tuple<boost::system::error_code, std::size_t>>> got;
    std::array<std::uint8_t, 16> buf{};
    asio::co_spawn(io, until(Clock::now() - std::chrono::milliseconds(i % 3), rx.async_receive(asio::buffer(buf), asio::as_tuple(asio::deferred))),
                   [&](std::exception_ptr e, auto r) {
                     ASSERT_FALSE(e);
                     got = r;
                   });
    ASSERT_TRUE(run_until(io, [&] { return got.has_value(); }));
    const auto [ec, n] = got->value;
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(n, 3U);
    ++kept;
  }
  EXPECT_EQ(kept, 200);
}

TEST(Deadline, ExpiryCancelsTheOperation) {
  asio::io_context io;
  udp::socket rx(io, udp::endpoint(kLoopback, 0));
  std::array<std::uint8_t, 16> buf{};
  std::optional<Timed<std::tuple<boost::system::error_code, std::size_t>>> got;
  asio::co_spawn(io, within(5ms, rx.async_receive(asio::buffer(buf), asio::as_tuple(asio::deferred))),
                 [&](std::exception_ptr, auto r) { got = r; });
  ASSERT_TRUE(run_until(io, [&] { return got.has_value(); }));
  EXPECT_TRUE(got->expired);
  EXPECT_EQ(std::get<0>(got->value), asio::error::operation_aborted);
}

TEST(Deadline, CancellingTheAwaiterCancelsBoth) {
  asio::io_context io;
  udp::socket rx(io, udp::endpoint(kLoopback, 0));
  std::array<std::uint8_t, 16> buf{};
  std::optional<Timed<std::tuple<boost::system::error_code, std::size_t>>> got;
  asio::cancellation_signal stop;
  asio::co_spawn(io, within(10s, rx.async_receive(asio::buffer(buf), asio::as_tuple(asio::deferred))),
                 asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr, auto r) { got = r; }));
  io.poll();
  ASSERT_FALSE(got);
  stop.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(run_until(io, [&] { return got.has_value(); }, 1000ms));
  EXPECT_FALSE(got->expired);
  EXPECT_EQ(std::get<0>(got->value), asio::error::operation_aborted);
}

// A UDP attempt whose deadline is zero, against a service that answers at
// once: the answer and the expiry race in every round. Either outcome is
// fine; a crash or an ASan report is not.
TEST(Deadline, UdpAttemptRacingItsDeadlineIsSafe) {
  asio::io_context io;
  udp::socket echo(io, udp::endpoint(kLoopback, 0));
  const auto port = echo.local_endpoint().port();
  std::array<std::uint8_t, 64> buf{};
  udp::endpoint from;
  std::function<void()> serve = [&] {
    echo.async_receive_from(asio::buffer(buf), from, [&](const boost::system::error_code& ec, std::size_t n) {
      if (ec) return;
      boost::system::error_code ignored;
      echo.send_to(asio::buffer(buf.data(), std::max<std::size_t>(n, 1)), from, 0, ignored);
      serve();
    });
  };
  serve();
  int open = 0;
  int silent = 0;
  int done = 0;
  const payloads::Choice payload{nullptr, payloads::Bytes{7}, "raw"};  // udp_attempt keeps a reference
  for (int i = 0; i < 300; ++i) {
    asio::co_spawn(io, udp_attempt(kLoopback, port, payload,
                                   std::chrono::milliseconds(i % 2), static_cast<std::uint64_t>(i)),
                   [&](std::exception_ptr e, Observation o) {
                     ASSERT_FALSE(e);
                     ++done;
                     if (o.state == PortState::open) ++open;
                     else if (o.reason == Reason::no_response) ++silent;
                   });
  }
  ASSERT_TRUE(run_until(io, [&] { return done == 300; }));
  EXPECT_EQ(open + silent, 300);
}

// --- the ICMP error budget -------------------------------------------------

TEST(IcmpErrorBudget, ACancelledWaiterLeavesNothingBehind) {
  asio::io_context io;
  detail::IcmpErrorBudget budget(io.get_executor(), 300ms, 0, Clock::now() - 1s);
  std::optional<detail::IcmpErrorBudget::Ticket> first;
  asio::co_spawn(io, budget.acquire(false), [&](std::exception_ptr, detail::IcmpErrorBudget::Ticket t) { first = t; });
  ASSERT_TRUE(run_until(io, [&] { return first.has_value(); }));
  asio::cancellation_signal stop;
  bool ended = false;
  bool aborted = false;
  asio::co_spawn(io, budget.acquire(false),
                 asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e, detail::IcmpErrorBudget::Ticket) {
                   ended = true;
                   aborted = static_cast<bool>(e);
                 }));
  io.poll();
  ASSERT_FALSE(ended) << "the second attempt waits for the gate";
  stop.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(run_until(io, [&] { return ended; }, 1000ms));
  EXPECT_TRUE(aborted);
  budget.settle(*first, true);  // wakes waiters: none is left to touch
  io.restart();
  io.poll();
}

// --- the resolver ----------------------------------------------------------

// A lookup that blocks until released, and tells when the last worker has let go of it.
struct BlockingLookup {
  std::shared_future<void> release;
  std::shared_ptr<std::promise<void>> entered_two;
  std::shared_ptr<std::atomic<int>> entered = std::make_shared<std::atomic<int>>(0);
  struct Gone {
    std::promise<void> p;
    ~Gone() { p.set_value(); }
  };
  std::shared_ptr<Gone> gone = std::make_shared<Gone>();
  Resolution operator()(const std::string&) const {
    if (++*entered == 2) entered_two->set_value();
    release.wait();
    Resolution r;
    r.addresses = {asio::ip::make_address("127.0.0.2")};
    r.texts = {"127.0.0.2"};
    return r;
  }
};

TEST(Resolve, AWorkerThatOutlivesItsLoopPostsNothing) {
  std::promise<void> release;
  auto entered = std::make_shared<std::promise<void>>();
  auto entered_future = entered->get_future();
  BlockingLookup lookup{release.get_future().share(), entered};
  auto gone = lookup.gone->p.get_future();
  {
    auto io = std::make_unique<asio::io_context>();
    asio::co_spawn(*io, resolve_all({"a.invalid", "b.invalid"}, 10s, std::move(lookup)), asio::detached);
    io->poll();
    ASSERT_EQ(entered_future.wait_for(5s), std::future_status::ready);
    // The loop goes away with the resolver suspended and both workers inside getaddrinfo.
  }
  release.set_value();
  // Each worker finds the run abandoned and returns; the last one drops the lookup.
  ASSERT_EQ(gone.wait_for(5s), std::future_status::ready);
}

TEST(Resolve, TheDeadlineAndCancellationEndTheWait) {
  std::promise<void> release;
  auto entered = std::make_shared<std::promise<void>>();
  BlockingLookup lookup{release.get_future().share(), entered};
  auto gone = lookup.gone->p.get_future();
  asio::io_context io;
  std::optional<std::unordered_map<std::string, Resolution>> at_deadline;
  asio::co_spawn(io, resolve_all({"a.invalid", "127.0.0.1"}, 20ms, lookup),
                 [&](std::exception_ptr, auto r) { at_deadline = std::move(r); });
  ASSERT_TRUE(run_until(io, [&] { return at_deadline.has_value(); }, 2000ms));
  EXPECT_TRUE((*at_deadline)["a.invalid"].addresses.empty());
  EXPECT_EQ((*at_deadline)["127.0.0.1"].texts, std::vector<std::string>{"127.0.0.1"});

  std::optional<std::unordered_map<std::string, Resolution>> cancelled;
  asio::cancellation_signal stop;
  asio::co_spawn(io, resolve_all({"c.invalid"}, 10s, lookup),
                 asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr, auto r) { cancelled = std::move(r); }));
  io.restart();
  io.poll();
  const auto t0 = Clock::now();
  stop.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(run_until(io, [&] { return cancelled.has_value(); }, 1000ms));
  EXPECT_LT(Clock::now() - t0, 1s);
  EXPECT_TRUE((*cancelled)["c.invalid"].addresses.empty());
  release.set_value();
  lookup = BlockingLookup{};  // drop our copy: the workers hold the last ones
  ASSERT_EQ(gone.wait_for(5s), std::future_status::ready);
}

// --- cancellation of a whole run --------------------------------------------

// A pass of silent probes with a 10 s timeout, cancelled once the first
// attempts are out: it ends promptly, every target has a result, none of them
// is an observation (nothing had time to time out), and every socket is closed.
TEST(Cancellation, ATerminalCancelEndsAPassOfSilentProbesPromptly) {
  const auto fds_before = open_fds();
  {
    asio::io_context io;
    // UDP: a bound socket that never reads; datagrams queue up, nothing answers.
    udp::socket mute(io, udp::endpoint(kLoopback, 0));
    // TCP: a listener whose accept queue is full; further SYNs are dropped, connects hang.
    tcp::acceptor full(io, tcp::endpoint(kLoopback, 0));
    full.listen(0);
    tcp::socket filler(io);
    filler.connect(full.local_endpoint());
    std::vector<Target> targets;
    for (int i = 0; i < 100; ++i) {
      auto& u = targets.emplace_back(kLoopback, mute.local_endpoint().port(), Protocol::udp);
      u.icmp_ratelimit = 0ms;
      targets.emplace_back(kLoopback, full.local_endpoint().port(), Protocol::tcp);
    }
    Settings s;
    s.timeout = 10s;
    s.retries = 1;
    s.max_rate = 0;
    s.concurrency = 64;
    s.per_host_concurrency = 64;
    std::vector<std::optional<Observation>> results(targets.size());
    RunStats stats;
    bool ended = false;
    asio::cancellation_signal stop;
    asio::co_spawn(io,
                   probe_all(
                       targets, s, [&](std::size_t i, Observation&& o) { results[i] = std::move(o); }, &stats),
                   asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e) {
                     EXPECT_FALSE(e);
                     ended = true;
                   }));
    // The first attempts are out once the mute socket holds datagrams (empty ones: the registry's default).
    ASSERT_TRUE(run_until(io, [&] { return pending(mute.native_handle()); }));
    io.restart();
    io.poll();
    const auto t0 = Clock::now();
    stop.emit(asio::cancellation_type::terminal);
    ASSERT_TRUE(run_until(io, [&] { return ended; }, 2000ms));
    const auto took = Clock::now() - t0;
    RecordProperty("cancel_to_return_us",
                   static_cast<int>(std::chrono::duration_cast<std::chrono::microseconds>(took).count()));
    EXPECT_LT(took, 1s);
    std::size_t not_probed_seen = 0;
    for (const auto& r : results) {
      ASSERT_TRUE(r.has_value());
      EXPECT_NE(r->reason, Reason::no_response) << "nothing could time out in a 10 s timeout";
      if (r->reason == Reason::not_probed) ++not_probed_seen;
    }
    EXPECT_EQ(not_probed_seen, targets.size());
    EXPECT_EQ(stats.not_probed, targets.size());
  }
  EXPECT_EQ(open_fds(), fds_before);
}

// Cancelled before it began: nothing is sent, every target is not probed.
TEST(Cancellation, AlreadyCancelledRunProbesNothing) {
  asio::io_context io;
  udp::socket mute(io, udp::endpoint(kLoopback, 0));
  std::vector<Target> targets(10, Target{kLoopback, mute.local_endpoint().port(), Protocol::udp});
  std::size_t not_probed_seen = 0;
  bool ended = false;
  asio::cancellation_signal stop;
  // A named lambda: the coroutine reaches its captures through it, so it must outlive the run.
  const auto body = [&]() -> asio::awaitable<void> {
    co_await asio::this_coro::throw_if_cancelled(false);
    stop.emit(asio::cancellation_type::terminal);  // while this coroutine runs: it is cancelled from now on
    co_await probe_all(targets, Settings{}, [&](std::size_t, Observation&& o) {
      if (o.reason == Reason::not_probed) ++not_probed_seen;
    });
  };
  asio::co_spawn(io, body(), asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr) { ended = true; }));
  ASSERT_TRUE(run_until(io, [&] { return ended; }, 2000ms));
  EXPECT_EQ(not_probed_seen, targets.size());
  EXPECT_FALSE(pending(mute.native_handle()));
}

// The runner passes the cancellation on and says the pass was cancelled;
// the checks carry not-probed, never a drift.
TEST(Cancellation, TheRunnerReturnsACancelledPass) {
  asio::io_context io;
  udp::socket mute(io, udp::endpoint(kLoopback, 0));
  plan::Plan plan;
  for (int i = 0; i < 20; ++i) {
    plan::Check c;
    c.protocol = Protocol::udp;
    c.port = mute.local_endpoint().port();
    c.expect = Expect::open;
    c.icmp_ratelimit_ms = 0;
    c.target = "127.0.0.1";
    c.host = "lo";
    plan.checks.push_back(c);
  }
  runner::Options options;
  options.probe.timeout = 10s;
  options.probe.max_rate = 0;
  std::optional<runner::Pass> pass;
  asio::cancellation_signal stop;
  asio::co_spawn(io, runner::run_pass(plan, options),
                 asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e, runner::Pass p) {
                   ASSERT_FALSE(e);
                   pass = std::move(p);
                 }));
  ASSERT_TRUE(run_until(io, [&] { return pending(mute.native_handle()); }));
  stop.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(run_until(io, [&] { return pass.has_value(); }, 2000ms));
  EXPECT_TRUE(pass->cancelled);
  ASSERT_EQ(pass->results.size(), plan.checks.size());
  for (const auto& r : pass->results) {
    EXPECT_EQ(r.check->port, mute.local_endpoint().port());
    EXPECT_EQ(r.observation.reason, Reason::not_probed);
    EXPECT_NE(r.outcome, verdict::Outcome::drift);
  }
}

// ICMP echo checks in flight end at once too.
TEST(Cancellation, AnEchoCheckEndsAsNotProbed) {
  asio::io_context io;
  std::optional<Observation> got;
  asio::cancellation_signal stop;
  EchoOptions options;
  options.count = 100;
  options.interval = 1s;
  asio::co_spawn(io, icmp_echo(kLoopback, options),
                 asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e, Observation o) {
                   ASSERT_FALSE(e);
                   got = std::move(o);
                 }));
  io.poll();
  if (got) GTEST_SKIP() << "no ICMP socket here: " << got->detail;
  stop.emit(asio::cancellation_type::terminal);
  ASSERT_TRUE(run_until(io, [&] { return got.has_value(); }, 1000ms));
  EXPECT_EQ(got->reason, Reason::not_probed);
}

}  // namespace
}  // namespace portdrift::probe
