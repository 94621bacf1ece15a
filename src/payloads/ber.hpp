#pragma once
// Just enough ASN.1 BER/DER for the payloads that speak it (SNMP, CLDAP,
// Kerberos): definite lengths, one-byte tags. The reader never reads past its
// span and rejects indefinite lengths, multi-byte tags and lengths that
// overrun the datagram, which is all a hostile reply can try.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace portdrift::payloads::ber {

using Bytes = std::vector<std::uint8_t>;
using View = std::span<const std::uint8_t>;

// Universal tags.
inline constexpr std::uint8_t kBoolean = 0x01;
inline constexpr std::uint8_t kInteger = 0x02;
inline constexpr std::uint8_t kBitString = 0x03;
inline constexpr std::uint8_t kOctetString = 0x04;
inline constexpr std::uint8_t kNull = 0x05;
inline constexpr std::uint8_t kOid = 0x06;
inline constexpr std::uint8_t kEnumerated = 0x0a;
inline constexpr std::uint8_t kGeneralString = 0x1b;
inline constexpr std::uint8_t kGeneralizedTime = 0x18;
inline constexpr std::uint8_t kSequence = 0x30;
// Context-specific constructed [n] and application constructed [n].
constexpr std::uint8_t context(std::uint8_t n) { return static_cast<std::uint8_t>(0xa0 | n); }
constexpr std::uint8_t application(std::uint8_t n) { return static_cast<std::uint8_t>(0x60 | n); }

// ---- writing ----------------------------------------------------------------

inline Bytes tlv(std::uint8_t tag, View content) {
  // Reserved, then pushed byte by byte: GCC 12 at -O3 (a Release build) reports a
  // false -Warray-bounds on insert(end, {...}) into the one-byte vector.
  Bytes out;
  const auto n = content.size();
  out.reserve(4 + n);
  out.push_back(tag);
  if (n < 0x80) {
    out.push_back(static_cast<std::uint8_t>(n));
  } else if (n <= 0xff) {
    out.push_back(0x81);
    out.push_back(static_cast<std::uint8_t>(n));
  } else {
    out.push_back(0x82);
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n & 0xff));
  }
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

inline Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

inline Bytes seq(std::initializer_list<Bytes> parts) { return tlv(kSequence, concat(parts)); }

// Minimal two's-complement encoding.
inline Bytes integer(std::int64_t v, std::uint8_t tag = kInteger) {
  Bytes content;
  for (int shift = 56; shift >= 0; shift -= 8) content.push_back(static_cast<std::uint8_t>((v >> shift) & 0xff));
  std::size_t skip = 0;
  while (skip + 1 < content.size() &&
         ((content[skip] == 0x00 && (content[skip + 1] & 0x80) == 0) ||
          (content[skip] == 0xff && (content[skip + 1] & 0x80) != 0))) {
    ++skip;
  }
  return tlv(tag, View(content).subspan(skip));
}

inline Bytes octets(std::string_view s, std::uint8_t tag = kOctetString) {
  return tlv(tag, View(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

// ---- reading ----------------------------------------------------------------

struct Tlv {
  std::uint8_t tag = 0;
  View content;
};

// Reads TLVs one after another from a span.
class Reader {
 public:
  explicit Reader(View data) : data_(data) {}
  [[nodiscard]] bool empty() const noexcept { return pos_ >= data_.size(); }

  std::optional<Tlv> next() noexcept {
    if (data_.size() - pos_ < 2) return std::nullopt;
    const std::uint8_t tag = data_[pos_];
    if ((tag & 0x1f) == 0x1f) return std::nullopt;  // multi-byte tag: nothing we speak uses one
    std::size_t p = pos_ + 1;
    std::size_t len = data_[p++];
    if (len & 0x80) {
      const std::size_t octets = len & 0x7f;
      if (octets == 0 || octets > 4 || data_.size() - p < octets) return std::nullopt;  // indefinite or too long
      len = 0;
      for (std::size_t i = 0; i < octets; ++i) len = (len << 8) | data_[p++];
    }
    if (data_.size() - p < len) return std::nullopt;
    pos_ = p + len;
    return Tlv{tag, data_.subspan(p, len)};
  }

  // The next TLV if it has this tag.
  std::optional<Tlv> expect(std::uint8_t tag) noexcept {
    auto t = next();
    if (!t || t->tag != tag) return std::nullopt;
    return t;
  }

 private:
  View data_;
  std::size_t pos_ = 0;
};

// An INTEGER's value, if it fits in 64 bits.
inline std::optional<std::int64_t> to_int(View content) noexcept {
  if (content.empty() || content.size() > 8) return std::nullopt;
  std::int64_t v = (content[0] & 0x80) ? -1 : 0;
  for (auto b : content) v = static_cast<std::int64_t>((static_cast<std::uint64_t>(v) << 8) | b);
  return v;
}

inline std::optional<std::int64_t> read_int(Reader& r, std::uint8_t tag = kInteger) noexcept {
  auto t = r.expect(tag);
  if (!t) return std::nullopt;
  return to_int(t->content);
}

// A context-tagged [n] wrapper holding one TLV of `inner` tag.
inline std::optional<Tlv> read_explicit(Reader& r, std::uint8_t n, std::uint8_t inner) noexcept {
  auto outer = r.expect(context(n));
  if (!outer) return std::nullopt;
  Reader in(outer->content);
  return in.expect(inner);
}

}  // namespace portdrift::payloads::ber
