#include "portdrift/config/addresses.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace portdrift::config {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

}  // namespace

std::optional<IpAddress> parse_ip(std::string_view text) noexcept {
  // inet_pton wants a NUL-terminated string; the longest IPv6 text is 45 characters.
  std::array<char, 64> buf{};
  if (text.empty() || text.size() >= buf.size()) return std::nullopt;
  std::memcpy(buf.data(), text.data(), text.size());
  IpAddress a;
  if (text.find(':') == std::string_view::npos) {
    in_addr v4{};
    if (inet_pton(AF_INET, buf.data(), &v4) != 1) return std::nullopt;
    a.lo = ntohl(v4.s_addr);
    return a;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf.data(), &v6) != 1) return std::nullopt;
  a.v6 = true;
  for (int i = 0; i < 8; ++i) a.hi = (a.hi << 8) | v6.s6_addr[i];
  for (int i = 8; i < 16; ++i) a.lo = (a.lo << 8) | v6.s6_addr[i];
  return a;
}

std::size_t format_ip(const IpAddress& a, char* out) noexcept {
  if (!a.v6) {
    in_addr v4{};
    v4.s_addr = htonl(static_cast<std::uint32_t>(a.lo));
    inet_ntop(AF_INET, &v4, out, INET6_ADDRSTRLEN);
  } else {
    in6_addr v6{};
    for (int i = 0; i < 8; ++i) v6.s6_addr[i] = static_cast<std::uint8_t>(a.hi >> (56 - 8 * i));
    for (int i = 0; i < 8; ++i) v6.s6_addr[8 + i] = static_cast<std::uint8_t>(a.lo >> (56 - 8 * i));
    inet_ntop(AF_INET6, &v6, out, INET6_ADDRSTRLEN);
  }
  return std::strlen(out);
}

std::string to_string(const IpAddress& a) {
  std::array<char, INET6_ADDRSTRLEN> buf{};
  return std::string(buf.data(), format_ip(a, buf.data()));
}

bool looks_numeric(std::string_view text) noexcept {
  if (text.find(':') != std::string_view::npos) return true;
  if (text.find('.') == std::string_view::npos) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return c == '.' || (c >= '0' && c <= '9'); });
}

IpAddress next(const IpAddress& a) noexcept {
  IpAddress n = a;
  if (!a.v6) {
    n.lo = (a.lo + 1) & 0xffffffffULL;
    return n;
  }
  n.lo = a.lo + 1;
  if (n.lo == 0) n.hi = a.hi + 1;
  return n;
}

std::uint64_t span_size(const IpAddress& first, const IpAddress& last) noexcept {
  if (first.v6 != last.v6 || last < first) return 0;
  if (last.hi != first.hi) {
    // More than 2^64 - 1 apart unless the high words differ by one and the low words wrap.
    if (last.hi - first.hi > 1 || last.lo >= first.lo) return UINT64_MAX;
    const std::uint64_t d = last.lo + (UINT64_MAX - first.lo);  // (2^64 + last.lo - first.lo) - 1
    return d == UINT64_MAX ? UINT64_MAX : d + 1;
  }
  const std::uint64_t d = last.lo - first.lo;
  return d == UINT64_MAX ? UINT64_MAX : d + 1;
}

std::optional<MemberSpec> parse_member(std::string_view raw, std::string& why) {
  const std::string_view text = trim(raw);
  if (text.empty()) {
    why = "empty member (expected a name, an address, a CIDR block or a range)";
    return std::nullopt;
  }
  MemberSpec m;
  if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    const auto addr_text = trim(text.substr(0, slash));
    const auto prefix_text = trim(text.substr(slash + 1));
    const auto addr = parse_ip(addr_text);
    if (!addr) {
      why = fmt::format("'{}' is not a CIDR block: '{}' is not an IP address", text, addr_text);
      return std::nullopt;
    }
    const unsigned bits = addr->v6 ? 128 : 32;
    unsigned prefix = 0;
    auto [ptr, ec] = std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), prefix);
    if (prefix_text.empty() || ec != std::errc{} || ptr != prefix_text.data() + prefix_text.size() || prefix > bits) {
      why = fmt::format("'{}' is not a CIDR block: the prefix length must be 0 to {}", text, bits);
      return std::nullopt;
    }
    // The host bits as a mask over (hi, lo).
    const unsigned host_bits = bits - prefix;
    std::uint64_t mask_hi = 0;
    std::uint64_t mask_lo = 0;
    if (host_bits >= 64) {
      mask_lo = UINT64_MAX;
      mask_hi = host_bits == 128 ? UINT64_MAX : (std::uint64_t{1} << (host_bits - 64)) - 1;
    } else {
      mask_lo = (std::uint64_t{1} << host_bits) - 1;
    }
    if ((addr->hi & mask_hi) != 0 || (addr->lo & mask_lo) != 0) {
      IpAddress base = *addr;
      base.hi &= ~mask_hi;
      base.lo &= ~mask_lo;
      why = fmt::format("'{}' has host bits set; the block is {}/{}", text, to_string(base), prefix);
      return std::nullopt;
    }
    m.kind = MemberSpec::Kind::block;
    m.first = *addr;
    m.last = *addr;
    m.last.hi |= mask_hi;
    m.last.lo |= mask_lo;
    return m;
  }
  if (const auto dash = text.find('-'); dash != std::string_view::npos) {
    const auto left = trim(text.substr(0, dash));
    const auto right = trim(text.substr(dash + 1));
    const auto first = parse_ip(left);
    // `pc-042.corp.example` is a name; `198.18.9.10-...` can only be a range.
    if (first || looks_numeric(left)) {
      const auto last = parse_ip(right);
      if (!first || !last) {
        why = fmt::format("'{}' is not an address range: '{}' is not an IP address", text, first ? right : left);
        return std::nullopt;
      }
      if (first->v6 != last->v6) {
        why = fmt::format("'{}' mixes IPv4 and IPv6", text);
        return std::nullopt;
      }
      if (*last < *first) {
        why = fmt::format("'{}' is reversed: {} comes before {}", text, right, left);
        return std::nullopt;
      }
      m.kind = MemberSpec::Kind::range;
      m.first = *first;
      m.last = *last;
      return m;
    }
  }
  if (const auto a = parse_ip(text)) {
    m.kind = MemberSpec::Kind::address;
    m.first = *a;
    m.last = *a;
    return m;
  }
  if (looks_numeric(text)) {
    why = fmt::format("'{}' is not a valid IP{} address (and is not a DNS name)", text,
                      text.find(':') != std::string_view::npos ? "v6" : "v4");
    return std::nullopt;
  }
  if (!std::all_of(text.begin(), text.end(), name_char) || text.front() == '.' || text.front() == '-' ||
      text.size() > 253) {
    why = fmt::format("'{}' is not a host name, an address, a CIDR block or a range", text);
    return std::nullopt;
  }
  m.kind = MemberSpec::Kind::name;
  return m;
}

}  // namespace portdrift::config
