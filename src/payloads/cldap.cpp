// Connectionless LDAP (RFC 1798; "LDAP ping" in MS-ADTS): a base-scope
// search of the rootDSE for (objectClass=*), asking for one harmless
// attribute. Active Directory domain controllers answer rootDSE searches over
// UDP; no bind, no credentials. The reply must be an LDAPMessage with our
// message ID carrying a search result entry or a search result done.

#include <fmt/format.h>

#include "ber.hpp"
#include "bytes.hpp"
#include "portdrift/payloads/payloads.hpp"

namespace portdrift::payloads::cldap {
namespace {

std::optional<std::int64_t> message_id(ber::View msg, ber::Tlv* op) {
  ber::Reader top(msg);
  auto outer = top.expect(ber::kSequence);
  if (!outer) return std::nullopt;
  ber::Reader m(outer->content);
  auto id = ber::read_int(m);
  if (!id) return std::nullopt;
  auto next = m.next();
  if (!next) return std::nullopt;
  if (op != nullptr) *op = *next;
  return id;
}

}  // namespace

std::optional<Bytes> build(const Context& ctx) {
  bytes::Rng rng(ctx.seed);
  const auto id = rng.u31();
  const auto search = ber::tlv(ber::application(3),
                               ber::concat({ber::octets(""),                         // baseObject: the rootDSE
                                            ber::integer(0, ber::kEnumerated),       // scope: baseObject
                                            ber::integer(0, ber::kEnumerated),       // derefAliases: never
                                            ber::integer(0),                         // sizeLimit
                                            ber::integer(0),                         // timeLimit
                                            ber::tlv(ber::kBoolean, Bytes{0x00}),    // typesOnly: FALSE
                                            ber::octets("objectClass", 0x87),        // filter: present
                                            ber::seq({ber::octets("supportedLDAPVersion")})}));
  return ber::seq({ber::integer(id), search});
}

Reply check(std::span<const std::uint8_t> request, std::span<const std::uint8_t> reply) {
  const auto want = message_id(request, nullptr);
  if (!want) return {false, "no LDAP request to compare with"};
  ber::Tlv op;
  const auto got = message_id(reply, &op);
  if (!got) return {false, "not LDAP: no LDAPMessage with a message ID"};
  if (*got != *want) return {false, fmt::format("LDAP message with ID {}, not our search's {}", *got, *want)};
  if (op.tag == ber::application(4)) {
    ber::Reader entry(op.content);
    auto dn = entry.expect(ber::kOctetString);
    auto attrs = entry.expect(ber::kSequence);
    if (!dn || !attrs) return {false, "LDAP search result entry cut short"};
    std::size_t n = 0;
    for (ber::Reader a(attrs->content); a.next(); ++n) {
    }
    return {true, fmt::format("CLDAP search result entry for the rootDSE, {} attributes", n)};
  }
  if (op.tag == ber::application(5)) {
    ber::Reader done(op.content);
    auto code = ber::read_int(done, ber::kEnumerated);
    if (!code) return {false, "LDAP search result done without a result code"};
    return {true, fmt::format("CLDAP search result done, resultCode {}", *code)};
  }
  return {false, fmt::format("LDAP message with our ID but operation tag {:#04x}", op.tag)};
}

}  // namespace portdrift::payloads::cldap
