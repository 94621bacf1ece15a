// UDP attempts and ICMP echo checks against real sockets on loopback (the
// only addresses a test outside a network namespace may target). Rate
// limits, filters and real services are in tests/netns/udp_icmp_test.cpp.

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <future>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "probe/icmp_error_budget.hpp"
#include "probe/shared_icmp_limiter.hpp"
#include "portdrift/probe/engine.hpp"
#include "portdrift/probe/icmp.hpp"
#include "portdrift/probe/udp.hpp"

namespace portdrift::probe {
namespace {
namespace asio = boost::asio;
using asio::ip::udp;
using namespace std::chrono_literals;

// Runs `a` to completion and stops there: the loopback services below would otherwise keep io busy forever.
template <typename T>
T run(asio::io_context& io, asio::awaitable<T> a) {
  std::optional<T> out;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(a), [&](std::exception_ptr e, T v) {
    error = e;
    out = std::move(v);
    io.stop();
  });
  io.restart();
  io.run();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

// A loopback UDP service: answers each datagram with what `answer` makes of it (nothing if empty).
struct Service {
  udp::socket sock;
  std::function<payloads::Bytes(const payloads::Bytes&)> answer;
  int received = 0;
  Service(asio::io_context& io, const char* addr, std::function<payloads::Bytes(const payloads::Bytes&)> f)
      : sock(io, udp::endpoint(asio::ip::make_address(addr), 0)), answer(std::move(f)) {
    asio::co_spawn(io, serve(), asio::detached);
  }
  asio::awaitable<void> serve() {
    std::array<std::uint8_t, 2048> buf{};
    for (;;) {
      udp::endpoint from;
      auto [ec, n] = co_await sock.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      ++received;
      const auto out = answer(payloads::Bytes(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n)));
      if (!out.empty()) co_await sock.async_send_to(asio::buffer(out), from, asio::as_tuple(asio::use_awaitable));
    }
  }
  [[nodiscard]] std::uint16_t port() const { return sock.local_endpoint().port(); }
};

std::uint16_t closed_port(asio::io_context& io, const char* addr) {
  udp::socket s(io, udp::endpoint(asio::ip::make_address(addr), 0));
  return s.local_endpoint().port();  // bound, then released: nothing listens there
}

payloads::Bytes dns_answer(const payloads::Bytes& q) {
  auto r = q;
  if (r.size() >= 4) {
    r[2] |= 0x80;
    r[3] = 0x05;
  }
  return r;
}

TEST(UdpProbe, ValidatedReplyIsOpen) {
  asio::io_context io;
  Service dns(io, "127.0.0.1", dns_answer);
  const auto o = run(io, udp_attempt(asio::ip::make_address("127.0.0.1"), dns.port(),
                                     payloads::Choice{payloads::by_name("dns"), std::nullopt, "dns"}, 1000ms, 1));
  EXPECT_EQ(o.state, PortState::open);
  EXPECT_EQ(o.reason, Reason::udp_response);
  EXPECT_TRUE(o.rtt.has_value());
  EXPECT_NE(o.reply.find("DNS response, rcode 5 (REFUSED)"), std::string::npos) << o.reply;
}

TEST(UdpProbe, ClosedPortIsPortUnreachV4AndV6) {
  asio::io_context io;
  for (const char* addr : {"127.0.0.1", "::1"}) {
    boost::system::error_code ec;
    udp::socket probe(io);
    probe.open(asio::ip::make_address(addr).is_v6() ? udp::v6() : udp::v4(), ec);
    if (!ec) probe.bind(udp::endpoint(asio::ip::make_address(addr), 0), ec);
    if (ec) continue;  // no IPv6 loopback here
    probe.close();
    const auto port = closed_port(io, addr);
    const auto o = run(io, udp_attempt(asio::ip::make_address(addr), port, payloads::Choice{}, 1000ms, 2));
    EXPECT_EQ(o.state, PortState::closed) << addr;
    EXPECT_EQ(o.reason, Reason::port_unreach) << addr;
  }
}

TEST(UdpProbe, SilenceIsOpenFilteredNeverOpen) {
  asio::io_context io;
  Service sink(io, "127.0.0.1", [](const payloads::Bytes&) { return payloads::Bytes{}; });
  const auto start = std::chrono::steady_clock::now();
  const auto o = run(io, udp_attempt(asio::ip::make_address("127.0.0.1"), sink.port(), payloads::Choice{}, 200ms, 3));
  EXPECT_EQ(o.state, PortState::open_filtered);
  EXPECT_EQ(o.reason, Reason::no_response);
  EXPECT_FALSE(o.rtt.has_value());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 190ms);
  EXPECT_EQ(sink.received, 1) << "an empty datagram still goes out";
}

TEST(UdpProbe, AReplyToAnotherRequestIsNotTakenForOurs) {
  asio::io_context io;
  // Answers with a DNS response whose ID is not ours: a stray reply. Something listens, so the port is
  // open, but only after the deadline passed without our answer, and the report says so.
  Service stray(io, "127.0.0.1", [](const payloads::Bytes& q) {
    auto r = dns_answer(q);
    r[0] ^= 0xff;
    return r;
  });
  const auto o = run(io, udp_attempt(asio::ip::make_address("127.0.0.1"), stray.port(),
                                     payloads::Choice{payloads::by_name("dns"), std::nullopt, "dns"}, 300ms, 4));
  EXPECT_EQ(o.state, PortState::open);
  EXPECT_EQ(o.reason, Reason::udp_response);
  EXPECT_EQ(o.reply.rfind("unexpected reply: DNS message with ID", 0), 0U) << o.reply;
}

TEST(UdpProbe, OwnBytesAnyReplyCounts) {
  asio::io_context io;
  payloads::Bytes seen;
  Service echo(io, "127.0.0.1", [&](const payloads::Bytes& q) {
    seen = q;
    return payloads::Bytes{'p', 'o', 'n', 'g'};
  });
  std::string why;
  const auto choice = *payloads::parse_choice("hex:de ad be ef", why);
  const auto o = run(io, udp_attempt(asio::ip::make_address("127.0.0.1"), echo.port(), choice, 1000ms, 5));
  EXPECT_EQ(o.state, PortState::open);
  EXPECT_EQ(seen, (payloads::Bytes{0xde, 0xad, 0xbe, 0xef}));
  EXPECT_EQ(o.reply, "4 bytes: \"pong\"");
}

TEST(UdpProbe, TftpAnswerFromANewPortIsAccepted) {
  asio::io_context io;
  // The RFC 1350 shape: the request arrives on one port, the ERROR leaves from another.
  udp::socket listener(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  udp::socket transfer(io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::array<std::uint8_t, 512> buf{};
        udp::endpoint from;
        auto [ec, n] = co_await listener.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
        if (ec || n < 2 || buf[1] != 1) co_return;
        const std::array<std::uint8_t, 7> err{0, 5, 0, 1, 'n', 'o', 0};
        co_await transfer.async_send_to(asio::buffer(err), from, asio::as_tuple(asio::use_awaitable));
      },
      asio::detached);
  const auto o = run(io, udp_attempt(asio::ip::make_address("127.0.0.1"), listener.local_endpoint().port(),
                                     payloads::Choice{payloads::by_name("tftp"), std::nullopt, "tftp"}, 1000ms, 6));
  EXPECT_EQ(o.state, PortState::open);
  EXPECT_EQ(o.reply, "TFTP error 1: no");
}

TEST(UdpProbe, EngineRetriesOnlySilence) {
  asio::io_context io;
  Service dns(io, "127.0.0.1", dns_answer);
  Service sink(io, "127.0.0.1", [](const payloads::Bytes&) { return payloads::Bytes{}; });
  const auto closed = closed_port(io, "127.0.0.1");
  const auto lo = asio::ip::make_address("127.0.0.1");
  std::vector<Target> targets{Target(lo, dns.port(), Protocol::udp), Target(lo, sink.port(), Protocol::udp),
                              Target(lo, closed, Protocol::udp)};
  const payloads::Choice dns_payload{payloads::by_name("dns"), std::nullopt, "dns"};
  targets[0].payload = &dns_payload;
  Settings s;
  s.timeout = 150ms;
  s.retries = 2;
  RunStats stats;
  auto obs = run(io, probe_all(targets, s, &stats));
  EXPECT_EQ(obs[0].state, PortState::open);
  EXPECT_EQ(obs[0].attempts, 1U);
  EXPECT_EQ(obs[1].state, PortState::open_filtered);
  EXPECT_EQ(obs[1].attempts, 3U);
  EXPECT_EQ(sink.received, 3);
  EXPECT_EQ(obs[2].state, PortState::closed);
  EXPECT_EQ(obs[2].attempts, 1U);
  EXPECT_EQ(stats.attempts, 5U);
}

// ---- the ICMP error budget -----------------------------------------------------

TEST(IcmpErrorBudget, BurstThenOneGuaranteedAttemptPerInterval) {
  asio::io_context io;
  const auto t0 = std::chrono::steady_clock::now();
  detail::IcmpErrorBudget budget(io.get_executor(), 100ms, 2, t0);
  std::vector<std::pair<std::chrono::steady_clock::duration, bool>> got;
  run(io, [&]() -> asio::awaitable<int> {
    for (int i = 0; i < 4; ++i) {
      const auto t = co_await budget.acquire(true);
      got.emplace_back(std::chrono::steady_clock::now() - t0, t.guaranteed);
    }
    co_return 0;
  }());
  ASSERT_EQ(got.size(), 4U);
  EXPECT_FALSE(got[0].second);  // burst, sent at once
  EXPECT_FALSE(got[1].second);
  EXPECT_LT(got[1].first, 50ms);
  EXPECT_TRUE(got[2].second);   // then one per spacing after the last send
  EXPECT_GE(got[2].first, budget.spacing());
  EXPECT_TRUE(got[3].second);
  EXPECT_GE(got[3].first - got[2].first, budget.spacing() - 1ms);
}

TEST(IcmpErrorBudget, AReplyGivesItsTokenBackAndWakesWaiters) {
  asio::io_context io;
  const auto t0 = std::chrono::steady_clock::now() - 1s;  // a run that began long ago: no burst needed
  detail::IcmpErrorBudget budget(io.get_executor(), 300ms, 0, t0);
  std::chrono::steady_clock::duration second_wait{};
  run(io, [&]() -> asio::awaitable<int> {
    const auto first = co_await budget.acquire(false);
    EXPECT_TRUE(first.guaranteed);
    // The first attempt gets a UDP reply 20 ms later: the target spent nothing on it.
    asio::steady_timer reply(io, 20ms);
    reply.async_wait([&](const boost::system::error_code&) { budget.settle(first, true); });
    const auto start = std::chrono::steady_clock::now();
    co_await budget.acquire(false);
    second_wait = std::chrono::steady_clock::now() - start;
    co_return 0;
  }());
  EXPECT_LT(second_wait, 150ms) << "the waiter should go as soon as the reply returned the token";
  EXPECT_GE(second_wait, 15ms);
}

TEST(IcmpErrorBudget, ZeroIntervalNeverWaits) {
  asio::io_context io;
  detail::IcmpErrorBudget budget(io.get_executor(), 0ms, 0);
  run(io, [&]() -> asio::awaitable<int> {
    for (int i = 0; i < 100; ++i) EXPECT_TRUE((co_await budget.acquire(false)).guaranteed);
    co_return 0;
  }());
}

// ---- a limiter shared by many addresses -------------------------------------------

TEST(IcmpBucket, RefillsToItsBurstAndAnErrorSpendsOneToken) {
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  detail::IcmpBucket b(100ms, 6, 0.0, t0);
  EXPECT_DOUBLE_EQ(b.level(t0), 0.0);
  EXPECT_DOUBLE_EQ(b.level(t0 + 250ms), 2.5);
  EXPECT_DOUBLE_EQ(b.level(t0 + 10s), 6.0) << "never more than the burst";
  b.spend(t0 + 250ms);
  EXPECT_DOUBLE_EQ(b.level(t0 + 250ms), 1.5);
  // More errors than the model thought the bucket held: it is empty, never below.
  for (int i = 0; i < 3; ++i) b.spend(t0 + 250ms);
  EXPECT_DOUBLE_EQ(b.level(t0 + 250ms), 0.0);
  EXPECT_DOUBLE_EQ(b.level(t0 + 350ms), 1.0);
  b.spend(t0 + 300ms);  // half a token then: empty, and refilling from there
  EXPECT_DOUBLE_EQ(b.level(t0 + 350ms), 0.5);
  b.spend(t0 + 100ms);  // an error reported late counts at the time the model stands at
  EXPECT_DOUBLE_EQ(b.level(t0 + 300ms), 0.0);
  EXPECT_DOUBLE_EQ(b.level(t0 + 350ms), 0.5);
}

// The bucket starts empty; silence hands its token back at once, an error spends it. (A 1 s
// interval: what would happen without the wake-ups takes hundreds of ms, far from what must.)
TEST(SharedIcmpLimiter, SilenceGivesItsTokenBackAnErrorSpendsIt) {
  asio::io_context io;
  const auto now = std::chrono::steady_clock::now();
  detail::SharedIcmpLimiter cold(io.get_executor(), 1000ms, 6, nullptr, now);
  EXPECT_LT(cold.level(now), 0.01) << "what came before is unknown: empty";
  // 1.2 tokens now (the spacing is the interval plus a margin).
  const auto past = std::chrono::duration_cast<std::chrono::steady_clock::duration>(1.2 * cold.spacing());
  detail::SharedIcmpLimiter limiter(io.get_executor(), 1000ms, 6, nullptr, now - past);
  std::vector<std::chrono::steady_clock::duration> waits;
  run(io, [&]() -> asio::awaitable<int> {
    const auto first = co_await limiter.acquire(10s);
    EXPECT_EQ(limiter.held(std::chrono::steady_clock::now()), 1U);
    // Silent 20 ms later: its token is back, and the waiter below goes at once (not when the
    // bucket would have held two, 800 ms on).
    asio::steady_timer quiet(io, 20ms);
    quiet.async_wait([&](const boost::system::error_code&) { limiter.settle(first, false); });
    auto start = std::chrono::steady_clock::now();
    const auto second = co_await limiter.acquire(10s);
    waits.push_back(std::chrono::steady_clock::now() - start);
    // This one draws an error: the next attempt waits for the bucket to refill a whole token.
    limiter.settle(second, true);
    start = std::chrono::steady_clock::now();
    const auto third = co_await limiter.acquire(10s);
    waits.push_back(std::chrono::steady_clock::now() - start);
    EXPECT_NE(third, 0U);
    co_return 0;
  }());
  ASSERT_EQ(waits.size(), 2U);
  EXPECT_GE(waits[0], 15ms);
  EXPECT_LT(waits[0], 400ms) << "a silent attempt held its token only until it settled";
  EXPECT_GE(waits[1], limiter.spacing() / 2) << "about 0.8 of a token was missing";
}

// Two attempts never count on one token: a reservation, or an attempt of the address let go
// outside the model, holds it until it settles or its hold ends.
TEST(SharedIcmpLimiter, HoldsAndAttemptsOutsideKeepTheirTokens) {
  asio::io_context io;
  const auto now = std::chrono::steady_clock::now();
  std::uint32_t outside = 1;
  detail::SharedIcmpLimiter probe_spacing(io.get_executor(), 1000ms, 6);
  const auto past = std::chrono::duration_cast<std::chrono::steady_clock::duration>(1.4 * probe_spacing.spacing());
  detail::SharedIcmpLimiter limiter(io.get_executor(), 1000ms, 6, &outside, now - past);  // 1.4 tokens
  std::vector<std::chrono::steady_clock::duration> waits;
  run(io, [&]() -> asio::awaitable<int> {
    asio::steady_timer ends(io, 20ms);
    ends.async_wait([&](const boost::system::error_code&) {
      --outside;
      limiter.settle_outside(false);
    });
    auto start = std::chrono::steady_clock::now();
    co_await limiter.acquire(60ms);  // a short hold: nothing settles it
    waits.push_back(std::chrono::steady_clock::now() - start);
    start = std::chrono::steady_clock::now();
    co_await limiter.acquire(10s);
    waits.push_back(std::chrono::steady_clock::now() - start);
    co_return 0;
  }());
  ASSERT_EQ(waits.size(), 2U);
  EXPECT_GE(waits[0], 15ms) << "the attempt outside held the only whole token";
  EXPECT_LT(waits[0], 400ms) << "and gave it back when it ended (else: 600 ms, when two were in)";
  EXPECT_GE(waits[1], 50ms) << "the first reservation held it for its hold";
  EXPECT_LT(waits[1], 400ms);
}

TEST(SharedIcmpLimiter, AnAttemptThatFindsNoTokenBeforeItsBudgetGetsNone) {
  asio::io_context io;
  detail::SharedIcmpLimiter limiter(io.get_executor(), 1000ms, 6);  // empty: a token in about a second
  std::uint64_t ticket = 1;
  const auto start = std::chrono::steady_clock::now();
  run(io, [&]() -> asio::awaitable<int> {
    ticket = co_await limiter.acquire(10s, start + 30ms);
    co_return 0;
  }());
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(ticket, 0U);
  EXPECT_GE(waited, 30ms);
  EXPECT_LT(waited, 500ms);
}

// ---- ICMP echo -------------------------------------------------------------------

bool raw_allowed() {
  const int fd = ::socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

TEST(IcmpEcho, LoopbackAnswersEveryRequest) {
  asio::io_context io;
  EchoOptions opt;
  opt.count = 3;
  opt.interval = 20ms;
  const auto o = run(io, icmp_echo(asio::ip::make_address("127.0.0.1"), opt));
  if (o.state == PortState::unknown) {
    // Neither socket is allowed to this process: the error must say what to grant.
    EXPECT_NE(o.detail.find("ping_group_range"), std::string::npos) << o.detail;
    EXPECT_NE(o.detail.find("CAP_NET_RAW"), std::string::npos) << o.detail;
    GTEST_SKIP() << o.detail;
  }
  EXPECT_EQ(o.state, PortState::up);
  EXPECT_EQ(o.reason, Reason::echo_reply);
  ASSERT_TRUE(o.echo.has_value());
  EXPECT_EQ(o.echo->sent, 3U);
  EXPECT_EQ(o.echo->received, 3U);
  EXPECT_EQ(o.echo->loss_percent(), 0.0);
  EXPECT_LE(o.echo->rtt_min, o.echo->rtt_avg);
  EXPECT_LE(o.echo->rtt_avg, o.echo->rtt_max);
}

TEST(IcmpEcho, ConcurrentRawChecksNeverTakeEachOthersReplies) {
  if (!raw_allowed()) GTEST_SKIP() << "no CAP_NET_RAW here";
  asio::io_context io;
  // Every raw ICMP socket sees every reply on the host; each check must count only its own.
  std::vector<std::future<Observation>> results;
  EchoOptions opt;
  opt.count = 4;
  opt.interval = 10ms;
  opt.socket = EchoSocket::raw;
  for (int i = 0; i < 8; ++i) {
    results.push_back(asio::co_spawn(io, icmp_echo(asio::ip::make_address("127.0.0.1"), opt), asio::use_future));
  }
  io.run();
  for (auto& f : results) {
    const auto o = f.get();
    ASSERT_TRUE(o.echo.has_value()) << o.detail;
    EXPECT_EQ(o.echo->sent, 4U);
    EXPECT_EQ(o.echo->received, 4U) << "a check counted replies that were not its own, or lost its own";
    EXPECT_NE(o.reply.find("raw socket"), std::string::npos) << o.reply;
  }
}

TEST(IcmpEcho, ForcedSocketKindThatIsNotAllowedSaysSo) {
  std::ifstream f("/proc/sys/net/ipv4/ping_group_range");
  long lo = 1;
  long hi = 0;
  f >> lo >> hi;
  const auto gid = static_cast<long>(::getgid());
  if (gid >= lo && gid <= hi) GTEST_SKIP() << "ping sockets are allowed here";
  asio::io_context io;
  EchoOptions opt;
  opt.socket = EchoSocket::datagram;
  const auto o = run(io, icmp_echo(asio::ip::make_address("127.0.0.1"), opt));
  EXPECT_EQ(o.state, PortState::unknown);
  EXPECT_EQ(o.reason, Reason::local_error);
  EXPECT_NE(o.detail.find("ping_group_range"), std::string::npos) << o.detail;
}

}  // namespace
}  // namespace portdrift::probe
