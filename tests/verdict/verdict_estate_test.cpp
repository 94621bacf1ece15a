// Issue 10's pure rules: absent addresses, names whose addresses disagree,
// and which addresses of a name a check probes.
#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>

#include "portdrift/runner/runner.hpp"
#include "portdrift/verdict/verdict.hpp"
#include "test_support.hpp"

namespace portdrift::verdict {
namespace {

using test_support::observed;

CheckResult result(const plan::Check& c, Observation o) {
  CheckResult r;
  r.check = &c;
  r.outcome = judge(c.expect, o, c.silence);
  r.observation = std::move(o);
  return r;
}

plan::Check check(std::string_view host, std::string_view target, Protocol p, std::uint16_t port, Expect e,
                  Absent absent) {
  plan::Check c;
  c.host = host;
  c.target = target;
  c.protocol = p;
  c.port = port;
  c.expect = e;
  c.absent = absent;
  c.group = absent == Absent::drift ? "" : "lan";
  return c;
}

TEST(Absent, OnlyNoResponseIsSilence) {
  EXPECT_TRUE(silent(observed(PortState::filtered, Reason::no_response, "")));
  EXPECT_TRUE(silent(observed(PortState::open_filtered, Reason::no_response, "")));
  EXPECT_TRUE(silent(observed(PortState::down, Reason::no_response, "")));
  for (auto r : {Reason::syn_ack, Reason::conn_refused, Reason::port_unreach, Reason::host_unreach,
                 Reason::admin_prohibited, Reason::udp_response, Reason::echo_reply, Reason::local_error,
                 Reason::resolve_failed}) {
    EXPECT_FALSE(silent(observed(PortState::filtered, r, ""))) << to_string(r);
  }
}

TEST(Absent, HostUnreachableSaysNobodyIsThereOtherAnswersDoNot) {
  EXPECT_TRUE(nobody_there(observed(PortState::filtered, Reason::no_response, "")));
  EXPECT_TRUE(nobody_there(observed(PortState::filtered, Reason::host_unreach, "")));
  for (auto r : {Reason::syn_ack, Reason::conn_refused, Reason::port_unreach, Reason::admin_prohibited,
                 Reason::host_prohibited, Reason::net_unreach, Reason::udp_response, Reason::echo_reply,
                 Reason::local_error, Reason::resolve_failed}) {
    EXPECT_FALSE(nobody_there(observed(PortState::filtered, r, ""))) << to_string(r);
  }
}

TEST(Absent, AnAddressThatARouterCallsUnreachableIsAbsentToo) {
  const auto a = check("lan/198.18.4.9", "198.18.4.9", Protocol::tcp, 80, Expect::open, Absent::warning);
  const auto b = check("lan/198.18.4.9", "198.18.4.9", Protocol::tcp, 443, Expect::open, Absent::warning);
  const auto c = check("lan/198.18.4.10", "198.18.4.10", Protocol::tcp, 80, Expect::open, Absent::warning);
  std::vector<CheckResult> results = {
      result(a, observed(PortState::filtered, Reason::host_unreach, "198.18.4.9")),
      result(b, observed(PortState::filtered, Reason::no_response, "198.18.4.9")),
      result(c, observed(PortState::filtered, Reason::admin_prohibited, "198.18.4.10")),
  };
  EXPECT_EQ(mark_absent(results), 1U);
  EXPECT_EQ(results[0].outcome, Outcome::absent);
  EXPECT_EQ(results[1].outcome, Outcome::absent);
  EXPECT_EQ(results[2].outcome, Outcome::drift);  // a firewall's answer: someone is there
}

TEST(Absent, AnAddressSilentOnEveryProbeIsAbsentOnce) {
  // Block members: .1 answers one port (RST), .2 answers nothing, .3 answers nothing on tcp but an echo.
  const auto a1 = check("lan/198.18.4.1", "198.18.4.1", Protocol::tcp, 80, Expect::open, Absent::warning);
  const auto b1 = check("lan/198.18.4.1", "198.18.4.1", Protocol::tcp, 443, Expect::open, Absent::warning);
  const auto a2 = check("lan/198.18.4.2", "198.18.4.2", Protocol::tcp, 80, Expect::open, Absent::warning);
  const auto b2 = check("lan/198.18.4.2", "198.18.4.2", Protocol::udp, 53, Expect::open, Absent::warning);
  const auto a3 = check("lan/198.18.4.3", "198.18.4.3", Protocol::tcp, 80, Expect::open, Absent::warning);
  const auto e3 = check("lan/198.18.4.3", "198.18.4.3", Protocol::icmp, 0, Expect::reachable, Absent::warning);
  std::vector<CheckResult> rs = {
      result(a1, observed(PortState::closed, Reason::conn_refused, "198.18.4.1")),
      result(b1, observed(PortState::filtered, Reason::no_response, "198.18.4.1")),
      result(a2, observed(PortState::filtered, Reason::no_response, "198.18.4.2")),
      result(b2, observed(PortState::open_filtered, Reason::no_response, "198.18.4.2")),
      result(a3, observed(PortState::filtered, Reason::no_response, "198.18.4.3")),
      result(e3, observed(PortState::up, Reason::echo_reply, "198.18.4.3")),
  };
  EXPECT_EQ(mark_absent(rs), 1U);
  EXPECT_EQ(rs[0].outcome, Outcome::drift);  // present, judged port by port
  EXPECT_EQ(rs[1].outcome, Outcome::drift);
  EXPECT_EQ(rs[2].outcome, Outcome::absent);
  EXPECT_EQ(rs[3].outcome, Outcome::absent);
  EXPECT_EQ(rs[4].outcome, Outcome::drift);  // the echo reply proves a host is there
  EXPECT_EQ(rs[5].outcome, Outcome::ok);
  const auto s = summarize(rs);
  EXPECT_EQ(s.absent, 1U);  // one address, though two of its checks
  EXPECT_EQ(s.absent_warning, 1U);
  EXPECT_EQ(s.drifted(), 3U);
  EXPECT_EQ(s.status, Status::critical);
}

TEST(Absent, NamedHostsStayDriftAndTheGroupSettingGivesTheSeverity) {
  const auto named = check("ns1", "198.18.1.1", Protocol::tcp, 443, Expect::open, Absent::drift);
  const auto quiet = check("lan/198.18.4.9", "198.18.4.9", Protocol::tcp, 443, Expect::open, Absent::ok);
  std::vector<CheckResult> rs = {result(named, observed(PortState::filtered, Reason::no_response, "198.18.1.1")),
                                 result(quiet, observed(PortState::filtered, Reason::no_response, "198.18.4.9"))};
  EXPECT_EQ(mark_absent(rs), 1U);
  EXPECT_EQ(rs[0].outcome, Outcome::drift);
  EXPECT_EQ(rs[1].outcome, Outcome::absent);
  rs.erase(rs.begin());
  auto s = summarize(rs);
  EXPECT_EQ(s.status, Status::ok);  // absent: ok is counted only
  EXPECT_EQ(s.absent, 1U);
  EXPECT_EQ(s.absent_warning + s.absent_critical, 0U);
  const auto loud = check("lan/198.18.4.9", "198.18.4.9", Protocol::tcp, 443, Expect::open, Absent::critical);
  rs[0].check = &loud;
  s = summarize(rs);
  EXPECT_EQ(s.status, Status::critical);
  EXPECT_EQ(s.absent_critical, 1U);
  EXPECT_EQ(severity_of(rs[0]), Severity::critical);
}

TEST(Absent, AnErrorIsNotAbsence) {
  const auto c = check("lan/198.18.4.5", "198.18.4.5", Protocol::tcp, 443, Expect::open, Absent::warning);
  std::vector<CheckResult> rs = {result(c, observed(PortState::unknown, Reason::local_error, "198.18.4.5"))};
  EXPECT_EQ(mark_absent(rs), 0U);
  EXPECT_EQ(rs[0].outcome, Outcome::error);
}

TEST(Disagreement, TheDriftingAddressNamesWhatTheOthersSaw) {
  const auto c = check("web", "web.example", Protocol::tcp, 443, Expect::open, Absent::drift);
  const auto d = check("web", "web.example", Protocol::tcp, 80, Expect::open, Absent::drift);
  std::vector<CheckResult> rs = {result(c, observed(PortState::open, Reason::syn_ack, "198.18.0.10")),
                                 result(c, observed(PortState::filtered, Reason::no_response, "2001:2::10")),
                                 result(d, observed(PortState::filtered, Reason::no_response, "198.18.0.10")),
                                 result(d, observed(PortState::filtered, Reason::no_response, "2001:2::10"))};
  note_disagreements(rs);
  EXPECT_TRUE(rs[0].note.empty());
  EXPECT_EQ(rs[1].note, "other addresses of web.example: open on 198.18.0.10");
  EXPECT_TRUE(rs[2].note.empty()) << "all addresses agree: a drift, no disagreement";
  EXPECT_TRUE(rs[3].note.empty());
}

}  // namespace
}  // namespace portdrift::verdict

namespace portdrift::runner {
namespace {

TEST(AddressSelection, FamilyPicksTheAddresses) {
  const std::vector<boost::asio::ip::address> both = {boost::asio::ip::make_address("198.18.0.1"),
                                                      boost::asio::ip::make_address("198.18.0.2"),
                                                      boost::asio::ip::make_address("2001:2::1")};
  EXPECT_EQ(select_addresses(both, AddressFamily::all), (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(select_addresses(both, AddressFamily::any), (std::vector<std::size_t>{0}));
  EXPECT_EQ(select_addresses(both, AddressFamily::ipv4), (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(select_addresses(both, AddressFamily::ipv6), (std::vector<std::size_t>{2}));
  const std::vector<boost::asio::ip::address> v4 = {boost::asio::ip::make_address("198.18.0.1")};
  EXPECT_TRUE(select_addresses(v4, AddressFamily::ipv6).empty());
  EXPECT_TRUE(select_addresses({}, AddressFamily::any).empty());
}

}  // namespace
}  // namespace portdrift::runner
