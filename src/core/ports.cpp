#include "portdrift/core/ports.hpp"

#include <charconv>

#include <fmt/format.h>

namespace portdrift {
namespace {

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::uint16_t> parse_port(std::string_view text) noexcept {
  text = trim(text);
  unsigned value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || ptr != end || value < 1 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::optional<PortSpec> parse_port_spec(std::string_view text, std::string& error) {
  PortSpec spec;
  if (trim(text).empty()) {
    error = "port is empty";
    return std::nullopt;
  }
  while (true) {
    const auto comma = text.find(',');
    const auto item = trim(text.substr(0, comma));
    const auto dash = item.find('-');
    const auto a = parse_port(item.substr(0, dash));
    const auto b = dash == std::string_view::npos ? a : parse_port(item.substr(dash + 1));
    if (!a || !b) {
      error = fmt::format("'{}' is not a port or range of ports 1-65535", item);
      return std::nullopt;
    }
    if (*b < *a) {
      error = fmt::format("range '{}' runs backwards", item);
      return std::nullopt;
    }
    spec.ranges.push_back({*a, *b});
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return spec;
}

std::uint32_t PortSpec::count() const noexcept {
  std::uint32_t n = 0;
  for (const auto& r : ranges) n += r.size();
  return n;
}

bool PortSpec::contains(std::uint16_t port) const noexcept {
  for (const auto& r : ranges) {
    if (port >= r.first && port <= r.last) return true;
  }
  return false;
}

bool PortSpec::covers(const PortRange& want) const noexcept {
  for (const auto& r : ranges) {
    if (want.first >= r.first && want.last <= r.last) return true;
  }
  return false;
}

std::string PortSpec::to_string() const {
  std::string out;
  for (const auto& r : ranges) {
    if (!out.empty()) out += ',';
    out += r.first == r.last ? fmt::format("{}", r.first) : fmt::format("{}-{}", r.first, r.last);
  }
  return out;
}

}  // namespace portdrift
