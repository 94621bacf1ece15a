// Real sockets on loopback (the only addresses a test outside a network
// namespace may target). Filtering, ICMP and routing cases need a network
// namespace and live in tests/netns.

#include <gtest/gtest.h>

#include <sys/resource.h>

#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include "portdrift/probe/engine.hpp"
#include "portdrift/probe/resolve.hpp"

namespace portdrift::probe {
namespace {
namespace asio = boost::asio;
using asio::ip::tcp;

// A loopback listener on an ephemeral port, and a port known to be closed.
struct Loopback {
  asio::io_context io;
  tcp::acceptor open{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::uint16_t closed_port = 0;
  Loopback() {
    tcp::acceptor probe_port(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed_port = probe_port.local_endpoint().port();  // bound then released: nothing listens there
  }
  [[nodiscard]] std::uint16_t open_port() const { return open.local_endpoint().port(); }
};

template <typename T>
T run(asio::io_context& io, asio::awaitable<T> a) {
  auto f = asio::co_spawn(io, std::move(a), asio::use_future);
  io.restart();
  io.run();
  return f.get();
}

TEST(Engine, OpenAndClosedOnLoopbackInTargetOrder) {
  Loopback lo;
  const auto addr = asio::ip::make_address("127.0.0.1");
  std::vector<Target> targets;
  for (int i = 0; i < 50; ++i) targets.push_back({addr, i % 2 == 0 ? lo.open_port() : lo.closed_port});
  Settings s;
  s.max_rate = 0;
  s.per_host_concurrency = 3;
  RunStats stats;
  auto obs = run(lo.io, probe_all(targets, s, &stats));
  ASSERT_EQ(obs.size(), targets.size());
  for (std::size_t i = 0; i < obs.size(); ++i) {
    if (i % 2 == 0) {
      EXPECT_EQ(obs[i].state, PortState::open) << i;
      EXPECT_EQ(obs[i].reason, Reason::syn_ack);
      EXPECT_TRUE(obs[i].rtt.has_value());
    } else {
      EXPECT_EQ(obs[i].state, PortState::closed) << i;
      EXPECT_EQ(obs[i].reason, Reason::conn_refused);
    }
    EXPECT_EQ(obs[i].attempts, 1U) << "an answered probe is never retried";
  }
  EXPECT_EQ(stats.attempts, 50U);
  EXPECT_GE(stats.concurrency, 1U);
}

// Longest first. A closed loopback port's RST is processed inside connect(), so the probes end in
// the order they started. Where the caps leave room for every probe at once, a target expected to
// be silent moves up behind the first three others of its address (what adaptive timing needs to
// trust an estimate); each group keeps its order. Where slots are short, nothing moves.
TEST(Engine, TargetsExpectedToBeSilentStartRightAfterTheFirstAnsweredOnes) {
  Loopback lo;
  const auto addr = asio::ip::make_address("127.0.0.1");
  std::vector<Target> targets(7, Target{addr, lo.closed_port});
  for (const auto i : {1, 4, 6}) targets[static_cast<std::size_t>(i)].silence_expected = true;
  Settings s;
  s.max_rate = 0;
  s.concurrency = 7;
  s.per_host_concurrency = 7;
  std::vector<std::size_t> order;
  const auto sink = [&](std::size_t i, Observation&&) { order.push_back(i); };
  run(lo.io, probe_all(targets, s, sink));
  EXPECT_EQ(order, (std::vector<std::size_t>{0, 2, 3, 1, 4, 6, 5}));
  s.per_host_concurrency = 6;  // one slot short for this address: the rotated order (rotation 0: as given)
  order.clear();
  run(lo.io, probe_all(targets, s, sink));
  EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6}));
  s.per_host_concurrency = 7;
  s.concurrency = 6;  // one slot short for the run
  order.clear();
  run(lo.io, probe_all(targets, s, sink));
  EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6}));
}

TEST(Engine, Ipv6Loopback) {
  asio::io_context io;
  boost::system::error_code ec;
  tcp::acceptor acc(io);
  acc.open(tcp::v6(), ec);
  if (!ec) acc.bind(tcp::endpoint(asio::ip::make_address("::1"), 0), ec);
  if (ec) GTEST_SKIP() << "no IPv6 loopback here: " << ec.message();
  acc.listen();
  const Target t{asio::ip::make_address("::1"), acc.local_endpoint().port(), Protocol::tcp};
  auto obs = run(io, probe_all(std::span(&t, 1), Settings{}));
  EXPECT_EQ(obs.at(0).state, PortState::open);
}

TEST(Engine, PacesAttemptsToMaxRate) {
  Loopback lo;
  std::vector<Target> targets(40, Target{asio::ip::make_address("127.0.0.1"), lo.closed_port});
  Settings s;
  s.max_rate = 100;  // 40 attempts at 100/s cannot finish before ~0.39 s
  const auto start = std::chrono::steady_clock::now();
  auto obs = run(lo.io, probe_all(targets, s));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(380));
  for (const auto& o : obs) EXPECT_EQ(o.state, PortState::closed);
}

TEST(Engine, ConcurrencyIsCappedByTheFileLimit) {
  EXPECT_GT(fd_budget(), 0U);
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  EXPECT_EQ(lim.rlim_cur, lim.rlim_max) << "fd_budget raises the soft limit to the hard one";
  Loopback lo;
  std::vector<Target> targets(10, Target{asio::ip::make_address("127.0.0.1"), lo.closed_port});
  Settings s;
  s.concurrency = 1'000'000;
  s.max_rate = 0;
  RunStats stats;
  run(lo.io, probe_all(targets, s, &stats));
  EXPECT_LE(stats.concurrency, fd_budget());
}

// Many hosts (127.0.0.1-30) and a small cap: slots and their sockets are
// reused over and over, so a stale event or deadline for a slot's previous
// attempt would land on the next one and show up as a wrong state.
TEST(Engine, SlotsAreReusedWithoutMixingUpAttempts) {
  Loopback lo;
  asio::ip::tcp::acceptor any(lo.io, tcp::endpoint(asio::ip::make_address("0.0.0.0"), 0));
  any.listen(4096);
  std::vector<Target> targets;
  for (int i = 0; i < 3000; ++i) {
    const auto addr = asio::ip::make_address_v4(0x7f000001U + static_cast<unsigned>(i % 30));
    targets.push_back({addr, i % 3 == 0 ? any.local_endpoint().port() : lo.closed_port});
  }
  Settings s;
  s.max_rate = 0;
  s.concurrency = 7;
  s.per_host_concurrency = 2;
  s.timeout = std::chrono::milliseconds(2000);
  RunStats stats;
  auto obs = run(lo.io, probe_all(targets, s, &stats));
  ASSERT_EQ(obs.size(), targets.size());
  for (std::size_t i = 0; i < obs.size(); ++i) {
    EXPECT_EQ(obs[i].state, i % 3 == 0 ? PortState::open : PortState::closed) << i;
    EXPECT_EQ(obs[i].attempts, 1U) << i;
  }
  EXPECT_EQ(stats.attempts, targets.size());
  EXPECT_EQ(stats.concurrency, 7U);
}

// The loop is kept busy well past every deadline right after the connects
// went out. The answers were in long before the deadlines, so they count:
// a deadline must never be taken for silence while an answer waits unread.
TEST(Engine, AnAnswerWaitingUnreadIsNotSilence) {
  Loopback lo;
  lo.open.listen(4096);
  const auto addr = asio::ip::make_address("127.0.0.1");
  std::vector<Target> targets(200, Target{addr, lo.open_port()});
  Settings s;
  s.max_rate = 0;
  s.retries = 0;
  s.per_host_concurrency = 200;
  s.timeout = std::chrono::milliseconds(50);
  auto f = asio::co_spawn(lo.io, probe_all(targets, s), asio::use_future);
  asio::post(lo.io, [] { std::this_thread::sleep_for(std::chrono::milliseconds(300)); });
  lo.io.run();
  for (const auto& o : f.get()) EXPECT_EQ(o.state, PortState::open);
}

// Unresolvable names are tested in tests/netns, where the resolver is
// controlled: here a lookup could leave the machine.
TEST(Resolve, LiteralsPassThroughAndNamesResolveOnce) {
  asio::io_context io;
  auto r = run(io, resolve_all({"127.0.0.1", "::1", "localhost", "127.0.0.1"}, std::chrono::milliseconds(5000)));
  ASSERT_EQ(r.size(), 3U);
  ASSERT_EQ(r["127.0.0.1"].addresses.size(), 1U);
  EXPECT_EQ(r["127.0.0.1"].texts.at(0), "127.0.0.1");
  EXPECT_EQ(r["::1"].texts.at(0), "::1");
  ASSERT_FALSE(r["localhost"].addresses.empty()) << r["localhost"].error;
  for (const auto& a : r["localhost"].addresses) EXPECT_TRUE(a.is_loopback());
}

}  // namespace
}  // namespace portdrift::probe

namespace portdrift::probe {
namespace {

// Deadlines of 0-1 ms race the connects' completions, so both land in one
// reactor pass over and over. Every attempt must end as open or silent, and
// under the ASan build (CI's unit run) a handler touching a finished
// attempt's memory fails the run.
TEST(Engine, DeadlineRacingCompletionIsSafe) {
  asio::io_context io;
  tcp::acceptor open(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  open.listen(4096);
  const auto addr = asio::ip::make_address("127.0.0.1");
  const auto port = open.local_endpoint().port();
  std::size_t open_seen = 0;
  std::size_t silent_seen = 0;
  std::size_t other = 0;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 500; ++i) {
      asio::co_spawn(io, tcp_attempt(addr, port, std::chrono::milliseconds(i % 2)), [&](std::exception_ptr e, Observation o) {
        if (e) std::rethrow_exception(e);
        if (o.state == PortState::open) ++open_seen;
        else if (o.reason == Reason::no_response) ++silent_seen;
        else ++other;
      });
    }
    io.restart();
    io.run();
    boost::system::error_code ec;
    while (true) {  // drain the accept queue between rounds
      open.non_blocking(true);
      tcp::socket s(io);
      open.accept(s, ec);
      if (ec) break;
    }
  }
  EXPECT_EQ(open_seen + silent_seen, 2000U);
  EXPECT_EQ(other, 0U);
  std::vector<Target> targets(2000, Target{addr, port, Protocol::tcp});
  Settings s;
  s.timeout = std::chrono::milliseconds(1);
  s.retries = 0;
  s.max_rate = 0;
  s.per_host_concurrency = 2000;
  s.concurrency = 2000;
  auto obs = run(io, probe_all(targets, s));
  for (const auto& o : obs) EXPECT_TRUE(o.state == PortState::open || o.reason == Reason::no_response);
  // Adaptive timing adds earlier deadline entries for attempts in flight and re-arms the one timer
  // when the estimate becomes trusted: those race the completions too.
  s.timing = Timing::adaptive;
  s.timeout = std::chrono::milliseconds(3);
  s.min_timeout = std::chrono::milliseconds(1);
  s.retries = 1;
  obs = run(io, probe_all(targets, s));
  for (const auto& o : obs) EXPECT_TRUE(o.state == PortState::open || o.reason == Reason::no_response);
}

}  // namespace
}  // namespace portdrift::probe

namespace portdrift::probe {
namespace {

// Adaptive timing on loopback. A listener whose accept queue is full (backlog
// 0, one connection left unaccepted) drops further SYNs: a silent port without
// a network namespace. Closed ports answer with an RST at once: samples.
struct SilentPort {
  asio::io_context io;
  tcp::acceptor full{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  tcp::socket filler{io};
  SilentPort() {
    full.listen(0);
    filler.connect(full.local_endpoint());  // fills the queue; never accepted
  }
  [[nodiscard]] std::uint16_t port() const { return full.local_endpoint().port(); }
};

struct AdaptiveRun {
  std::vector<Observation> obs;
  RunStats stats;
  std::chrono::milliseconds wall{0};
};

AdaptiveRun adaptive_run(SilentPort& sp, int closed_ports, std::chrono::milliseconds timeout,
                         RttMemory* memory = nullptr) {
  const auto addr = asio::ip::make_address("127.0.0.1");
  std::vector<Target> targets{{addr, sp.port()}};  // first: it starts before any answer is in
  for (int i = 0; i < closed_ports; ++i) {
    tcp::acceptor a(sp.io, tcp::endpoint(addr, 0));
    targets.push_back({addr, a.local_endpoint().port()});  // bound then released: nothing listens there
  }
  Settings s;
  s.timing = Timing::adaptive;
  s.timeout = timeout;
  s.retries = 1;
  s.max_rate = 0;
  s.per_host_concurrency = 64;
  s.rtt_memory = memory;
  AdaptiveRun r;
  const auto start = std::chrono::steady_clock::now();
  r.obs = run(sp.io, probe_all(targets, s, &r.stats));
  r.wall = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  return r;
}

TEST(EngineAdaptive, ASilentPortIsGivenUpAtTheFloorOnceTheAddressHasAnswered) {
  SilentPort sp;
  const auto r = adaptive_run(sp, 5, std::chrono::milliseconds(600));
  ASSERT_EQ(r.obs.size(), 6U);
  EXPECT_EQ(r.obs[0].reason, Reason::no_response);
  EXPECT_EQ(r.obs[0].attempts, 2U);
  for (std::size_t i = 1; i < r.obs.size(); ++i) EXPECT_EQ(r.obs[i].reason, Reason::conn_refused) << i;
  EXPECT_EQ(r.stats.trusted_addresses, 1U);
  EXPECT_EQ(r.stats.give_up_median, std::chrono::milliseconds(100)) << "a loopback round trip waits the floor";
  // The first attempt started with the full 600 ms and was cut to 100 ms when the estimate became
  // trusted; the retry waited 100 ms: far under the fixed 2 x 600 ms.
  EXPECT_GE(r.wall, std::chrono::milliseconds(200));
  EXPECT_LT(r.wall, std::chrono::milliseconds(600));
}

TEST(EngineAdaptive, NoEarlyGiveUpBeforeEnoughSamples) {
  SilentPort sp;
  const auto r = adaptive_run(sp, 2, std::chrono::milliseconds(300));  // two answers: not trusted yet
  ASSERT_EQ(r.obs.size(), 3U);
  EXPECT_EQ(r.obs[0].reason, Reason::no_response);
  EXPECT_EQ(r.stats.trusted_addresses, 0U);
  EXPECT_GE(r.wall, std::chrono::milliseconds(600)) << "both attempts waited the full timeout";
}

// The daemon's batches: what one run learnt of an address, the next starts from.
TEST(EngineAdaptive, ARememberedEstimateIsTrustedFromTheNextRunsFirstAttempt) {
  SilentPort sp;
  RttMemory memory;
  const auto first = adaptive_run(sp, 5, std::chrono::milliseconds(600), &memory);
  ASSERT_EQ(memory.size(), 1U);
  const auto* e = memory.find(asio::ip::make_address("127.0.0.1"));
  ASSERT_NE(e, nullptr);
  EXPECT_GE(e->samples, 5U);
  EXPECT_LT(e->srtt, std::chrono::milliseconds(50));
  // Only the silent port now: no answer in this run, yet the estimate is trusted from the start.
  const auto next = adaptive_run(sp, 0, std::chrono::milliseconds(600), &memory);
  ASSERT_EQ(next.obs.size(), 1U);
  EXPECT_EQ(next.obs[0].reason, Reason::no_response);
  EXPECT_EQ(next.obs[0].attempts, 2U);
  EXPECT_EQ(next.stats.trusted_addresses, 1U);
  EXPECT_LT(next.wall, std::chrono::milliseconds(600)) << "two attempts at the floor, not two of 600 ms";
  // Without the memory the same run waits the full timeout twice.
  const auto fresh = adaptive_run(sp, 0, std::chrono::milliseconds(300));
  EXPECT_EQ(fresh.stats.trusted_addresses, 0U);
  EXPECT_GE(fresh.wall, std::chrono::milliseconds(600));
  // Addresses no run stored since a time are forgotten.
  memory.forget_before(std::chrono::steady_clock::now() + std::chrono::seconds(1));
  EXPECT_EQ(memory.size(), 0U);
}

}  // namespace
}  // namespace portdrift::probe
