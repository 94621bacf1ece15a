// Each payload: the request has the shape its specification gives, a
// well-formed answer to it is accepted, an answer to another request is not,
// and truncated, oversized or random replies are rejected without reading
// past the datagram (run under ASan in CI).

#include <gtest/gtest.h>

#include <random>

#include "payloads/ber.hpp"
#include "payloads/bytes.hpp"
#include "portdrift/payloads/payloads.hpp"

namespace portdrift::payloads {
namespace {

using View = std::span<const std::uint8_t>;

Context ctx(std::uint64_t seed = 42, bool v6 = false) {
  Context c;
  c.seed = seed;
  c.v6 = v6;
  c.local = {198, 18, 0, 1};
  c.local_port = 40000;
  return c;
}

Bytes text(std::string_view s) { return Bytes(s.begin(), s.end()); }

void put16(Bytes& b, std::uint16_t v) { bytes::put16(b, v); }

// No prefix of a valid reply may pass, and none may crash the parser.
void expect_prefixes_rejected(const Payload& p, const Bytes& request, const Bytes& reply, std::size_t min_valid) {
  for (std::size_t n = 0; n < min_valid && n < reply.size(); ++n) {
    const auto r = p.check(request, View(reply.data(), n));
    EXPECT_FALSE(r.valid) << p.name << " accepted " << n << " of " << reply.size() << " bytes";
    EXPECT_FALSE(r.what.empty());
  }
}

TEST(Payloads, RegistryChoosesByPortAndKeepsIdsTriggersOptIn) {
  EXPECT_EQ(for_port(53)->name, "dns");
  EXPECT_EQ(for_port(123)->name, "ntp");
  EXPECT_EQ(for_port(161)->name, "snmp");
  EXPECT_EQ(for_port(162)->name, "snmp");
  EXPECT_EQ(for_port(137)->name, "nbns");
  EXPECT_EQ(for_port(389)->name, "cldap");
  EXPECT_EQ(for_port(69)->name, "tftp");
  EXPECT_EQ(for_port(623)->name, "rmcp");
  EXPECT_EQ(for_port(88)->name, "kerberos");
  EXPECT_EQ(for_port(67)->name, "dhcp");
  EXPECT_EQ(for_port(111)->name, "portmap");
  EXPECT_EQ(for_port(2049)->name, "nfs");
  EXPECT_EQ(for_port(1434), nullptr) << "the SQL Browser ping trips IDS rules: opt-in only";
  ASSERT_NE(by_name("mssql-browser"), nullptr);
  EXPECT_TRUE(by_name("mssql-browser")->opt_in);
  EXPECT_EQ(for_port(514), nullptr);
  EXPECT_EQ(default_choice(514).label, "empty");
  ASSERT_TRUE(default_choice(514).bytes.has_value());
  EXPECT_TRUE(default_choice(514).bytes->empty());
  EXPECT_EQ(for_port(69)->source, ReplySource::any_port);
  for (const auto& p : all()) {
    EXPECT_NE(p.build, nullptr) << p.name;
    EXPECT_NE(p.check, nullptr) << p.name;
    EXPECT_EQ(by_name(p.name), &p);
  }
}

TEST(Payloads, TopologyPayloadValues) {
  std::string why;
  auto hex = parse_choice("hex:0a 0B:ff-00", why);
  ASSERT_TRUE(hex) << why;
  EXPECT_EQ(*hex->bytes, (Bytes{0x0a, 0x0b, 0xff, 0x00}));
  EXPECT_EQ(hex->builtin, nullptr);
  auto txt = parse_choice("text:PING\r\n", why);
  ASSERT_TRUE(txt);
  EXPECT_EQ(*txt->bytes, text("PING\r\n"));
  auto named = parse_choice("mssql-browser", why);
  ASSERT_TRUE(named);
  EXPECT_EQ(named->builtin, by_name("mssql-browser"));
  auto empty = parse_choice("empty", why);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->bytes->empty());
  EXPECT_FALSE(parse_choice("hex:abc", why));
  EXPECT_NE(why.find("odd number"), std::string::npos) << why;
  EXPECT_FALSE(parse_choice("hex:zz", why));
  EXPECT_FALSE(parse_choice("hex:", why));
  EXPECT_FALSE(parse_choice("text:", why));
  EXPECT_FALSE(parse_choice(std::string("text:") + std::string(2000, 'x'), why));
  EXPECT_FALSE(parse_choice("dsn", why));
  EXPECT_NE(why.find("unknown payload 'dsn'"), std::string::npos) << why;
  EXPECT_NE(why.find("dns"), std::string::npos) << why;
}

TEST(Payloads, DnsQueryAndResponse) {
  const auto req = *dns::build(ctx());
  ASSERT_EQ(req.size(), 17U);
  EXPECT_EQ(req[2] & 0x81, 0) << "a query, recursion not desired";
  EXPECT_EQ(bytes::get16(req, 4), 1);  // one question
  EXPECT_EQ(req[12], 0);               // the root
  EXPECT_EQ(bytes::get16(req, 13), 2);  // NS
  EXPECT_NE(bytes::get16(*dns::build(ctx(1)), 0), bytes::get16(*dns::build(ctx(2)), 0)) << "IDs differ per seed";

  Bytes reply = req;
  reply[2] |= 0x80;
  reply[3] = 0x05;  // REFUSED
  auto r = dns::check(req, reply);
  EXPECT_TRUE(r.valid) << r.what;
  EXPECT_NE(r.what.find("REFUSED"), std::string::npos) << r.what;
  expect_prefixes_rejected(*by_name("dns"), req, reply, reply.size());

  Bytes other = reply;
  other[1] ^= 0x01;  // another ID
  EXPECT_FALSE(dns::check(req, other).valid);
  EXPECT_FALSE(dns::check(req, req).valid) << "our own query echoed back is not a response";
  Bytes wrong_q = reply;
  wrong_q[14] = 1;  // type A
  EXPECT_FALSE(dns::check(req, wrong_q).valid);
  Bytes no_q = reply;
  no_q.resize(12);
  no_q[5] = 0;
  EXPECT_TRUE(dns::check(req, no_q).valid) << "an error response may drop the question";
  no_q[3] = 0;
  EXPECT_FALSE(dns::check(req, no_q).valid) << "a success without our question is not ours";
}

TEST(Payloads, NtpClientRequestAndServerReply) {
  const auto req = *ntp::build(ctx());
  ASSERT_EQ(req.size(), 48U);
  EXPECT_EQ(req[0], 0x23);  // v4, client
  Bytes reply(48, 0);
  reply[0] = 0x24;  // v4, server
  reply[1] = 3;
  std::copy(req.begin() + 40, req.begin() + 48, reply.begin() + 24);
  auto r = ntp::check(req, reply);
  EXPECT_TRUE(r.valid) << r.what;
  EXPECT_NE(r.what.find("stratum 3"), std::string::npos);
  expect_prefixes_rejected(*by_name("ntp"), req, reply, 48);
  Bytes bogus = reply;
  bogus[27] ^= 1;  // origin timestamp is not our transmit timestamp
  EXPECT_FALSE(ntp::check(req, bogus).valid);
  Bytes client = reply;
  client[0] = 0x23;
  EXPECT_FALSE(ntp::check(req, client).valid);
  Bytes kod = reply;
  kod[1] = 0;
  kod[12] = 'R', kod[13] = 'A', kod[14] = 'T', kod[15] = 'E';
  r = ntp::check(req, kod);
  EXPECT_TRUE(r.valid);
  EXPECT_NE(r.what.find("RATE"), std::string::npos);
}

// msgID of an SNMPv3 message built by snmp::build.
std::int64_t snmp_msg_id(const Bytes& msg) {
  ber::Reader top(msg);
  ber::Reader m(top.expect(ber::kSequence)->content);
  ber::read_int(m);
  ber::Reader h(m.expect(ber::kSequence)->content);
  return *ber::read_int(h);
}

Bytes snmp_report(std::int64_t msg_id, std::string_view engine) {
  const auto usm = ber::seq({ber::octets(engine), ber::integer(1), ber::integer(77), ber::octets(""),
                             ber::octets(""), ber::octets("")});
  const std::uint8_t flags = 0;
  const auto oid = ber::tlv(ber::kOid, Bytes{0x2b, 6, 1, 6, 3, 15, 1, 1, 4, 0});
  return ber::seq({ber::integer(3),
                   ber::seq({ber::integer(msg_id), ber::integer(65507), ber::tlv(ber::kOctetString, View(&flags, 1)),
                             ber::integer(3)}),
                   ber::tlv(ber::kOctetString, usm),
                   ber::seq({ber::octets(engine), ber::octets(""),
                             ber::tlv(0xa8, ber::concat({ber::integer(5), ber::integer(0), ber::integer(0),
                                                         ber::seq({ber::seq({oid, ber::integer(1, 0x41)})})}))})});
}

TEST(Payloads, SnmpV3DiscoveryAndReport) {
  const auto req = *snmp::build(ctx());
  const auto id = snmp_msg_id(req);
  EXPECT_GT(id, 0);
  // No community string anywhere: the request is version 3 with an empty user.
  EXPECT_EQ(std::search(req.begin(), req.end(), std::begin("public"), std::end("public") - 1), req.end());
  const auto reply = snmp_report(id, std::string_view("\x80\x00\x1f\x88\x01", 5));
  auto r = snmp::check(req, reply);
  EXPECT_TRUE(r.valid) << r.what;
  EXPECT_NE(r.what.find("report"), std::string::npos) << r.what;
  EXPECT_NE(r.what.find("80001f8801"), std::string::npos) << r.what;
  expect_prefixes_rejected(*by_name("snmp"), req, reply, reply.size());
  EXPECT_FALSE(snmp::check(req, snmp_report(id + 1, "x")).valid);
  // An SNMPv2c response is not an answer to a v3 request.
  const auto v2 = ber::seq({ber::integer(1), ber::octets("public"), ber::tlv(0xa2, Bytes{})});
  EXPECT_FALSE(snmp::check(req, v2).valid);
  // A length field that claims more than the datagram holds.
  Bytes lying = reply;
  lying[1] = 0x84;
  EXPECT_FALSE(snmp::check(req, lying).valid);
}

Bytes nbstat_reply(std::uint16_t id, std::uint8_t names, std::size_t rdlength_extra = 46) {
  Bytes b;
  put16(b, id);
  put16(b, 0x8400);
  put16(b, 0);
  put16(b, 1);
  put16(b, 0);
  put16(b, 0);
  b.push_back(32);
  for (int i = 0; i < 32; ++i) b.push_back('A');
  b.push_back(0);
  put16(b, 0x21);
  put16(b, 1);
  bytes::put32(b, 0);
  put16(b, static_cast<std::uint16_t>(1U + names * 18U + rdlength_extra));
  b.push_back(names);
  for (std::uint8_t i = 0; i < names; ++i) {
    bytes::put(b, "WORKSTATION01  ");
    b.push_back(i == 0 ? 0x00 : 0x20);
    put16(b, 0x0400);
  }
  b.insert(b.end(), rdlength_extra, 0);
  return b;
}

TEST(Payloads, NetbiosNodeStatus) {
  const auto req = *nbns::build(ctx());
  ASSERT_EQ(req.size(), 50U);
  EXPECT_EQ(req[12], 32);
  EXPECT_EQ(std::string(req.begin() + 13, req.begin() + 15), "CK");  // '*' first-level encoded
  EXPECT_EQ(bytes::get16(req, 46), 0x21);
  const auto reply = nbstat_reply(bytes::get16(req, 0), 2);
  auto r = nbns::check(req, reply);
  EXPECT_TRUE(r.valid) << r.what;
  EXPECT_NE(r.what.find("2 names, first WORKSTATION01<00>"), std::string::npos) << r.what;
  expect_prefixes_rejected(*by_name("nbns"), req, reply, 57 + 1 + 2 * 18);
  EXPECT_FALSE(nbns::check(req, nbstat_reply(static_cast<std::uint16_t>(bytes::get16(req, 0) + 1), 2)).valid);
  // A name count whose table would overrun the record.
  Bytes overrun = nbstat_reply(bytes::get16(req, 0), 2, 0);
  overrun[56] = 200;  // the name count
  EXPECT_FALSE(nbns::check(req, overrun).valid);
}

TEST(Payloads, CldapRootDseSearch) {
  const auto req = *cldap::build(ctx());
  ber::Reader top(req);
  auto msg = top.expect(ber::kSequence);
  ASSERT_TRUE(msg);
  ber::Reader m(msg->content);
  const auto id = *ber::read_int(m);
  auto search = m.expect(ber::application(3));
  ASSERT_TRUE(search) << "a SearchRequest";
  ber::Reader s(search->content);
  EXPECT_TRUE(s.expect(ber::kOctetString)->content.empty()) << "base: the rootDSE";
  EXPECT_EQ(ber::read_int(s, ber::kEnumerated), 0) << "scope: base object";

  const auto entry = ber::seq({ber::integer(id), ber::tlv(ber::application(4),
                                                          ber::concat({ber::octets(""),
                                                                       ber::seq({ber::seq({ber::octets("supportedLDAPVersion"),
                                                                                           ber::tlv(0x31, ber::octets("3"))})})}))});
  auto r = cldap::check(req, entry);
  EXPECT_TRUE(r.valid) << r.what;
  EXPECT_NE(r.what.find("1 attributes"), std::string::npos) << r.what;
  expect_prefixes_rejected(*by_name("cldap"), req, entry, entry.size());
  const auto done = ber::seq({ber::integer(id), ber::tlv(ber::application(5),
                                                         ber::concat({ber::integer(0, ber::kEnumerated), ber::octets(""),
                                                                      ber::octets("")}))});
  EXPECT_TRUE(cldap::check(req, done).valid);
  const auto other = ber::seq({ber::integer(id + 1), ber::tlv(ber::application(5), ber::integer(0, ber::kEnumerated))});
  EXPECT_FALSE(cldap::check(req, other).valid);
}

TEST(Payloads, TftpReadRequestErrorAndData) {
  const auto req = *tftp::build(ctx());
  EXPECT_EQ(bytes::get16(req, 0), 1);  // RRQ
  const std::string s(req.begin() + 2, req.end());
  EXPECT_EQ(s.rfind("portdrift-probe-", 0), 0U);
  EXPECT_NE(s.find(std::string("\0octet\0", 7)), std::string::npos);
  Bytes error{0, 5, 0, 1};
  bytes::put(error, "File not found");
  error.push_back(0);
  auto r = tftp::check(req, error);
  EXPECT_TRUE(r.valid);
  EXPECT_EQ(r.what, "TFTP error 1: File not found");
  EXPECT_FALSE(tftp::farewell(error).has_value());
  expect_prefixes_rejected(*by_name("tftp"), req, error, 4);
  const Bytes data{0, 3, 0, 1, 'x'};
  EXPECT_TRUE(tftp::check(req, data).valid);
  const auto bye = tftp::farewell(data);
  ASSERT_TRUE(bye);
  EXPECT_EQ(bytes::get16(*bye, 0), 5) << "a DATA reply is ended with an ERROR";
  EXPECT_FALSE(tftp::check(req, Bytes{0, 3, 0, 9}).valid);
  EXPECT_FALSE(tftp::check(req, Bytes{0, 4, 0, 1}).valid);
  // An ERROR without its terminating NUL is read only up to the datagram's end.
  EXPECT_TRUE(tftp::check(req, Bytes{0, 5, 0, 2, 'n', 'o'}).valid);
}

TEST(Payloads, RmcpPresencePingAndPong) {
  const auto req = *rmcp::build(ctx());
  ASSERT_EQ(req.size(), 12U);
  EXPECT_EQ(req[2], 0xff) << "no RMCP ACK wanted";
  EXPECT_EQ(req[8], 0x80);
  Bytes pong{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x40, req[9], 0x00, 0x10};
  bytes::put32(pong, 4542);
  bytes::put32(pong, 0);
  pong.push_back(0x81);  // IPMI supported, ASF 1.0
  pong.push_back(0x00);
  pong.insert(pong.end(), 6, 0);
  auto r = rmcp::check(req, pong);
  EXPECT_TRUE(r.valid) << r.what;
  EXPECT_NE(r.what.find("IPMI"), std::string::npos);
  expect_prefixes_rejected(*by_name("rmcp"), req, pong, 12);
  Bytes other_tag = pong;
  other_tag[9] = static_cast<std::uint8_t>(req[9] + 1);
  EXPECT_FALSE(rmcp::check(req, other_tag).valid);
  Bytes ack = pong;
  ack[3] = 0x86;
  EXPECT_FALSE(rmcp::check(req, ack).valid);
}

TEST(Payloads, OncRpcNullCall) {
  const auto req = *rpc::build_nfs(ctx());
  ASSERT_EQ(req.size(), 40U);
  EXPECT_EQ(bytes::get32(req, 12), 100003U);
  EXPECT_EQ(bytes::get32(req, 20), 0U) << "procedure NULL";
  Bytes reply;
  bytes::put32(reply, bytes::get32(req, 0));
  bytes::put32(reply, 1);  // REPLY
  bytes::put32(reply, 0);  // accepted
  bytes::put32(reply, 0);  // verifier AUTH_NONE
  bytes::put32(reply, 0);
  bytes::put32(reply, 1);  // PROG_UNAVAIL
  auto r = rpc::check(req, reply);
  EXPECT_TRUE(r.valid) << r.what;
  EXPECT_NE(r.what.find("PROG_UNAVAIL"), std::string::npos);
  expect_prefixes_rejected(*by_name("nfs"), req, reply, reply.size());
  Bytes huge_verifier = reply;
  huge_verifier[16] = 0x7f;  // a verifier length far beyond the datagram
  EXPECT_FALSE(rpc::check(req, huge_verifier).valid);
  Bytes other = reply;
  other[3] ^= 1;
  EXPECT_FALSE(rpc::check(req, other).valid);
  EXPECT_EQ(bytes::get32(*rpc::build_portmap(ctx()), 12), 100000U);
  EXPECT_EQ(bytes::get32(*rpc::build_mountd(ctx()), 12), 100005U);
}

TEST(Payloads, KerberosAsReqAndKrbError) {
  const auto req = *kerberos::build(ctx());
  EXPECT_EQ(req[0], ber::application(10));
  const std::string s(req.begin(), req.end());
  EXPECT_NE(s.find("PORTDRIFT.INVALID"), std::string::npos);
  auto ctxt = [](std::uint8_t n, const Bytes& inner) { return ber::tlv(ber::context(n), inner); };
  const auto err = ber::tlv(ber::application(30),
                            ber::seq({ctxt(0, ber::integer(5)), ctxt(1, ber::integer(30)),
                                      ctxt(4, ber::octets("20260101000000Z", ber::kGeneralizedTime)),
                                      ctxt(5, ber::integer(0)), ctxt(6, ber::integer(68)),
                                      ctxt(9, ber::octets("PORTDRIFT.INVALID", ber::kGeneralString))}));
  auto r = kerberos::check(req, err);
  EXPECT_TRUE(r.valid) << r.what;
  EXPECT_NE(r.what.find("KDC_ERR_WRONG_REALM"), std::string::npos) << r.what;
  expect_prefixes_rejected(*by_name("kerberos"), req, err, err.size());
  const auto v4 = ber::tlv(ber::application(30), ber::seq({ctxt(0, ber::integer(4)), ctxt(1, ber::integer(30))}));
  EXPECT_FALSE(kerberos::check(req, v4).valid);
  EXPECT_FALSE(kerberos::check(req, req).valid) << "our own AS-REQ is not an answer";
}

TEST(Payloads, DhcpInformAndAck) {
  const auto req = *dhcp::build_inform(ctx());
  ASSERT_GE(req.size(), 300U);
  EXPECT_EQ(req[0], 1);
  EXPECT_EQ(Bytes(req.begin() + 12, req.begin() + 16), (Bytes{198, 18, 0, 1})) << "ciaddr is our address";
  EXPECT_EQ(req[28] & 0x02, 0x02) << "a locally administered hardware address";
  EXPECT_EQ(bytes::get32(req, 236), 0x63825363U);
  EXPECT_EQ(Bytes(req.begin() + 240, req.begin() + 243), (Bytes{53, 1, 8})) << "DHCPINFORM";
  EXPECT_FALSE(dhcp::build_inform(ctx(1, true)).has_value()) << "no DHCPv4 to an IPv6 target";
  Bytes ack(req.begin(), req.begin() + 240);
  ack[0] = 2;
  ack.insert(ack.end(), {53, 1, 5, 54, 4, 198, 18, 1, 1, 255});
  auto r = dhcp::check(req, ack);
  EXPECT_TRUE(r.valid) << r.what;
  EXPECT_EQ(r.what, "DHCPACK from server 198.18.1.1");
  expect_prefixes_rejected(*by_name("dhcp"), req, ack, 240);
  Bytes runaway = ack;
  runaway[244] = 250;  // option 54 claims 250 bytes
  EXPECT_FALSE(dhcp::check(req, runaway).valid);
  Bytes other = ack;
  other[4] ^= 1;
  EXPECT_FALSE(dhcp::check(req, other).valid);
  const auto pxe = *dhcp::build_pxe(ctx());
  const std::string p(pxe.begin(), pxe.end());
  EXPECT_NE(p.find("PXEClient"), std::string::npos);
}

TEST(Payloads, SqlBrowserOptIn) {
  const auto req = *mssql::build(ctx());
  EXPECT_EQ(req, Bytes{0x03});
  const std::string body = "ServerName;DB1;InstanceName;MSSQLSERVER;IsClustered;No;Version;15.0.2000.5;tcp;1433;;";
  Bytes reply{0x05, static_cast<std::uint8_t>(body.size()), 0};
  bytes::put(reply, body);
  auto r = mssql::check(req, reply);
  EXPECT_TRUE(r.valid) << r.what;
  EXPECT_NE(r.what.find("1 instances"), std::string::npos);
  Bytes lying = reply;
  lying[2] = 0xff;
  EXPECT_FALSE(mssql::check(req, lying).valid);
}

TEST(Payloads, RandomDatagramsNeverPassOrCrash) {
  std::mt19937_64 rng(7);
  for (const auto& p : all()) {
    const auto req = p.build(ctx(rng()));
    ASSERT_TRUE(req.has_value()) << p.name;
    for (int i = 0; i < 2000; ++i) {
      Bytes junk(rng() % 600);
      for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
      const auto r = p.check(*req, junk);
      // Random bytes may only pass where the protocol has no ID to match (TFTP's opcodes, a KRB-ERROR shape).
      if (r.valid && p.name != "tftp" && p.name != "kerberos") ADD_FAILURE() << p.name << " accepted random bytes";
      if (p.farewell != nullptr) p.farewell(junk);
    }
  }
}

}  // namespace
}  // namespace portdrift::payloads
