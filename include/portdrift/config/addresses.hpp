#pragma once
// Addresses as the topology writes them: IPv4/IPv6 literals, CIDR blocks
// (`198.18.4.0/22`, `2001:db8:4::/120`) and ranges
// (`198.18.9.10-198.18.9.40`). An address is a 128-bit number (IPv4 in the
// low 32 bits) so that a block or range is two numbers and its size one
// subtraction: nothing here allocates per address, and a /64 is as cheap to
// reject as a /32 is to accept. Pure functions; no I/O, no DNS.

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portdrift::config {

struct IpAddress {
  bool v6 = false;        // first, so that all IPv4 addresses sort before all IPv6 ones
  std::uint64_t hi = 0;   // IPv6: the upper 64 bits; 0 for IPv4
  std::uint64_t lo = 0;   // IPv6: the lower 64 bits; IPv4: the address
  auto operator<=>(const IpAddress&) const = default;
};

// An IP literal, or nullopt (a DNS name or garbage; see looks_numeric()).
std::optional<IpAddress> parse_ip(std::string_view text) noexcept;
// The canonical text (inet_ntop): `198.18.4.17`, `2001:db8:4::11`.
std::string to_string(const IpAddress& a);
// Writes the canonical text to `out` (at least 46 bytes) and returns its length.
std::size_t format_ip(const IpAddress& a, char* out) noexcept;

// Text that can only have meant an IP literal: digits and dots with a dot in
// it (`999.1.1.1`, `1.2.3`), or anything with a colon. When parse_ip() fails
// on it, it is a mistake to report, never a DNS name to look up.
bool looks_numeric(std::string_view text) noexcept;

// The next address (wraps within the family; callers stop at a range's end first).
IpAddress next(const IpAddress& a) noexcept;
// last - first + 1, saturating at UINT64_MAX; 0 if last < first or the families differ.
std::uint64_t span_size(const IpAddress& first, const IpAddress& last) noexcept;

// What one `members` entry names.
struct MemberSpec {
  enum class Kind : std::uint8_t { name, address, block, range };
  Kind kind = Kind::name;
  IpAddress first;  // address, block, range: the first and last address named
  IpAddress last;
};

// Parses a member; on failure returns nullopt and says why in `why`. A name
// is checked for shape only (letters, digits, `-`, `_`, `.`).
std::optional<MemberSpec> parse_member(std::string_view text, std::string& why);

}  // namespace portdrift::config
