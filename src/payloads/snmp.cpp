// SNMP: version 3 engine discovery (RFC 3414 section 4, RFC 3412). A
// reportable GetRequest with an empty engine ID and an empty user name, no
// authentication, no variables. An SNMPv3 engine must answer it with a
// Report (usmStatsUnknownEngineIDs) carrying its engine ID. No community
// string is sent, so nothing is guessed and nothing is read. The reply must
// be SNMPv3 with our msgID.

#include <fmt/format.h>

#include "ber.hpp"
#include "bytes.hpp"
#include "portdrift/payloads/payloads.hpp"

namespace portdrift::payloads::snmp {
namespace {

// The msgID of an SNMPv3 message, and the rest of it after the header.
struct Parsed {
  std::int64_t msg_id = 0;
  ber::View security;   // msgSecurityParameters' content
  ber::View scoped;     // the scopedPDU TLV's content
  std::uint8_t scoped_tag = 0;
};

std::optional<Parsed> parse(ber::View msg, std::string& why) {
  ber::Reader top(msg);
  auto outer = top.expect(ber::kSequence);
  if (!outer) {
    why = "not SNMP: no BER SEQUENCE";
    return std::nullopt;
  }
  ber::Reader m(outer->content);
  auto version = ber::read_int(m);
  if (!version) {
    why = "not SNMP: no version";
    return std::nullopt;
  }
  if (*version != 3) {
    why = fmt::format("SNMP message of version {} (v{}), not SNMPv3", *version, *version == 0 ? 1 : 2);
    return std::nullopt;
  }
  auto header = m.expect(ber::kSequence);
  if (!header) {
    why = "SNMPv3 message without a header";
    return std::nullopt;
  }
  ber::Reader h(header->content);
  auto id = ber::read_int(h);
  if (!id) {
    why = "SNMPv3 header without a msgID";
    return std::nullopt;
  }
  auto sec = m.expect(ber::kOctetString);
  auto scoped = m.next();
  if (!sec || !scoped) {
    why = "SNMPv3 message cut short";
    return std::nullopt;
  }
  return Parsed{*id, sec->content, scoped->content, scoped->tag};
}

std::string_view pdu_name(std::uint8_t tag) {
  switch (tag) {
    case 0xa0: return "get-request";
    case 0xa2: return "response";
    case 0xa8: return "report";
    default: return "other PDU";
  }
}

}  // namespace

std::optional<Bytes> build(const Context& ctx) {
  bytes::Rng rng(ctx.seed);
  const auto msg_id = rng.u31();
  const auto request_id = rng.u31();
  const auto security = ber::seq({ber::octets(""), ber::integer(0), ber::integer(0), ber::octets(""),
                                  ber::octets(""), ber::octets("")});
  const std::uint8_t flags = 0x04;  // reportable, noAuthNoPriv
  const auto msg = ber::seq({
      ber::integer(3),
      ber::seq({ber::integer(msg_id), ber::integer(65507), ber::tlv(ber::kOctetString, std::span(&flags, 1)),
                ber::integer(3)}),
      ber::tlv(ber::kOctetString, security),
      ber::seq({ber::octets(""), ber::octets(""),
                ber::tlv(0xa0, ber::concat({ber::integer(request_id), ber::integer(0), ber::integer(0),
                                            ber::seq({})}))}),
  });
  return msg;
}

Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply) {
  std::string why;
  const auto req = parse(request, why);
  if (!req) return {false, "no SNMPv3 request to compare with"};
  const auto rep = parse(reply, why);
  if (!rep) return {false, why};
  if (rep->msg_id != req->msg_id) {
    return {false, fmt::format("SNMPv3 message with msgID {}, not our request's {}", rep->msg_id, req->msg_id)};
  }
  // The engine ID sits in the USM security parameters: SEQUENCE { engineID, boots, time, ... }.
  std::string engine = "unknown";
  ber::Reader s(rep->security);
  if (auto usm = s.expect(ber::kSequence)) {
    ber::Reader u(usm->content);
    if (auto id = u.expect(ber::kOctetString); id && !id->content.empty()) engine = bytes::hex(id->content);
  }
  std::string pdu = "encrypted PDU";
  if (rep->scoped_tag == ber::kSequence) {
    ber::Reader sp(rep->scoped);
    sp.next();  // contextEngineID
    sp.next();  // contextName
    if (auto p = sp.next()) pdu = pdu_name(p->tag);
  }
  return {true, fmt::format("SNMPv3 {}, engine ID {}", pdu, engine)};
}

}  // namespace portdrift::payloads::snmp
