// Kerberos 5 (RFC 4120): an AS-REQ for a made-up client in the reserved
// realm PORTDRIFT.INVALID (RFC 2606), without pre-authentication. No KDC
// holds that realm or principal, so a KDC answers with a KRB-ERROR (wrong
// realm, unknown principal, pre-authentication required): that error is the
// proof of a KDC, and nothing is issued. The reply must be a KRB-ERROR or an
// AS-REP of protocol version 5.

#include <fmt/format.h>

#include "ber.hpp"
#include "bytes.hpp"
#include "portdrift/payloads/payloads.hpp"

namespace portdrift::payloads::kerberos {
namespace {

constexpr std::string_view kRealm = "PORTDRIFT.INVALID";

ber::Bytes ctx(std::uint8_t n, ber::Bytes inner) { return ber::tlv(ber::context(n), inner); }

ber::Bytes principal(std::int64_t type, std::initializer_list<std::string_view> parts) {
  ber::Bytes names;
  for (auto p : parts) {
    const auto s = ber::octets(p, ber::kGeneralString);
    names.insert(names.end(), s.begin(), s.end());
  }
  return ber::seq({ctx(0, ber::integer(type)), ctx(1, ber::tlv(ber::kSequence, names))});
}

std::string_view error_name(std::int64_t code) {
  switch (code) {
    case 6: return "KDC_ERR_C_PRINCIPAL_UNKNOWN";
    case 7: return "KDC_ERR_S_PRINCIPAL_UNKNOWN";
    case 14: return "KDC_ERR_ETYPE_NOSUPP";
    case 24: return "KDC_ERR_PREAUTH_FAILED";
    case 25: return "KDC_ERR_PREAUTH_REQUIRED";
    case 68: return "KDC_ERR_WRONG_REALM";
    default: return "error";
  }
}

}  // namespace

std::optional<Bytes> build(const Context& c) {
  bytes::Rng rng(c.seed);
  const auto body = ber::seq({
      ctx(0, ber::tlv(ber::kBitString, Bytes{0x00, 0x00, 0x00, 0x00, 0x00})),  // kdc-options: none
      ctx(1, principal(1, {"portdrift-probe"})),                              // cname, NT-PRINCIPAL
      ctx(2, ber::octets(kRealm, ber::kGeneralString)),
      ctx(3, principal(2, {"krbtgt", kRealm})),                               // sname, NT-SRV-INST
      ctx(5, ber::octets("20370913024805Z", ber::kGeneralizedTime)),          // till
      ctx(7, ber::integer(rng.u31())),                                        // nonce
      ctx(8, ber::seq({ber::integer(18), ber::integer(17), ber::integer(23)})),  // etypes
  });
  return ber::tlv(ber::application(10), ber::seq({ctx(1, ber::integer(5)), ctx(2, ber::integer(10)), ctx(4, body)}));
}

Reply check(std::span<const std::uint8_t> /*request*/, std::span<const std::uint8_t> reply) {
  ber::Reader top(reply);
  auto app = top.next();
  if (!app) return {false, "not Kerberos: no ASN.1 message"};
  const bool error = app->tag == ber::application(30);
  const bool as_rep = app->tag == ber::application(11);
  if (!error && !as_rep) return {false, fmt::format("not a KRB-ERROR or AS-REP (tag {:#04x})", app->tag)};
  ber::Reader outer(app->content);
  auto body = outer.expect(ber::kSequence);
  if (!body) return {false, "Kerberos message without its SEQUENCE"};
  ber::Reader f(body->content);
  // KRB-ERROR: pvno [0], msg-type [1]; AS-REP (KDC-REP): pvno [0], msg-type [1] as well.
  auto pvno = ber::read_explicit(f, 0, ber::kInteger);
  auto type = ber::read_explicit(f, 1, ber::kInteger);
  if (!pvno || !type || ber::to_int(pvno->content) != 5) return {false, "Kerberos message that is not version 5"};
  const auto msg_type = ber::to_int(type->content);
  if (as_rep) {
    if (msg_type != 11) return {false, "AS-REP with a wrong message type"};
    return {true, "Kerberos AS-REP"};
  }
  if (msg_type != 30) return {false, "KRB-ERROR with a wrong message type"};
  for (auto t = f.next(); t; t = f.next()) {
    if (t->tag != ber::context(6)) continue;
    ber::Reader in(t->content);
    if (auto code = ber::read_int(in)) {
      return {true, fmt::format("Kerberos KRB-ERROR {} ({})", *code, error_name(*code))};
    }
  }
  return {false, "KRB-ERROR without an error code"};
}

}  // namespace portdrift::payloads::kerberos
