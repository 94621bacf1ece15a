#include "portdrift/config/yaml_reader.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include <fmt/format.h>

namespace portdrift::config {

std::string join_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return fmt::format("{}.{}", parent, key);
}

std::string index_path(std::string_view parent, std::size_t index) { return fmt::format("{}[{}]", parent, index); }

std::optional<Node> MapView::get(std::string_view key) const {
  for (const auto& e : entries_) {
    if (e.key == key) return e.value;
  }
  return std::nullopt;
}

SourcePos YamlReader::pos(const Node& node) noexcept { return node.pos(); }

void YamlReader::error(SourcePos p, std::string_view key_path, std::string message) {
  out_.push_back(Diagnostic{file_, p, std::string(key_path), std::move(message)});
}

void YamlReader::append(Diagnostics&& other) {
  for (auto& d : other) out_.push_back(std::move(d));
}

void YamlReader::error(const Node& at, std::string_view key_path, std::string message) {
  error(pos(at), key_path, std::move(message));
}

std::optional<Node> YamlReader::load_text(std::string_view text) {
  Node root = doc_.parse(std::string(text), file_, out_);
  if (!root.IsDefined()) return std::nullopt;
  return root;
}

std::optional<Node> YamlReader::load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error(SourcePos{}, "", "cannot open file (missing or unreadable)");
    return std::nullopt;
  }
  // One buffer, sized from the file when it has a size, and handed to the parser without a copy.
  std::string text;
  std::error_code ec;
  if (const auto size = std::filesystem::file_size(path, ec); !ec) text.reserve(static_cast<std::size_t>(size));
  std::ostringstream buf(std::move(text));
  buf << in.rdbuf();
  if (in.bad()) {
    error(SourcePos{}, "", "cannot read file");
    return std::nullopt;
  }
  text = std::move(buf).str();
  if (text.find('\0') != std::string::npos) {
    error(SourcePos{}, "", "not a YAML text file (contains NUL bytes)");
    return std::nullopt;
  }
  Node root = doc_.parse(std::move(text), file_, out_);
  if (!root.IsDefined()) return std::nullopt;
  return root;
}

std::optional<MapView> YamlReader::read_map(const Node& node, std::string_view key_path,
                                            const std::span<const std::string_view>* allowed) {
  if (!node.IsMap()) {
    error(node, key_path, node.IsNull() ? "expected a mapping, found nothing" : "expected a mapping");
    return std::nullopt;
  }
  MapView view;
  // Keys seen so far, as views into the document. Most mappings have a handful of keys: a
  // linear search beats hashing them; large ones (flows, port overrides) get a set.
  const auto pairs = node.pairs();
  view.entries_.reserve(pairs.size());
  constexpr std::size_t kLinear = 16;
  std::vector<std::string_view> seen_few;
  std::unordered_set<std::string_view> seen_many;
  auto first_time = [&](std::string_view name) {
    if (pairs.size() > kLinear) return seen_many.insert(name).second;
    if (std::find(seen_few.begin(), seen_few.end(), name) != seen_few.end()) return false;
    seen_few.push_back(name);
    return true;
  };
  for (const auto& kv : pairs) {
    const Node& key = kv.first;
    if (!key.IsScalar()) {
      error(key, key_path, "mapping keys must be plain scalars");
      continue;
    }
    const std::string_view name = key.Scalar();
    if (!first_time(name)) {
      error(key, join_path(key_path, name), "duplicate key");
      continue;
    }
    if (allowed != nullptr && std::find(allowed->begin(), allowed->end(), name) == allowed->end()) {
      std::string expected;
      for (auto a : *allowed) expected += fmt::format("{}{}", expected.empty() ? "" : ", ", a);
      error(key, join_path(key_path, name), fmt::format("unknown key (expected one of: {})", expected));
      continue;
    }
    view.entries_.push_back({std::string(name), key, kv.second});
  }
  return view;
}

std::optional<MapView> YamlReader::mapping(const Node& node, std::string_view key_path,
                                           std::initializer_list<std::string_view> allowed) {
  const std::span<const std::string_view> keys(allowed.begin(), allowed.size());
  return read_map(node, key_path, &keys);
}

std::optional<MapView> YamlReader::mapping(const Node& node, std::string_view key_path,
                                           std::span<const std::string_view> allowed) {
  return read_map(node, key_path, &allowed);
}

std::optional<MapView> YamlReader::any_mapping(const Node& node, std::string_view key_path) {
  return read_map(node, key_path, nullptr);
}

std::optional<std::string> YamlReader::string(const Node& node, std::string_view key_path) {
  if (!node.IsScalar()) {
    error(node, key_path, "expected a single value (a string)");
    return std::nullopt;
  }
  return std::string(node.Scalar());
}

std::optional<bool> YamlReader::boolean(const Node& node, std::string_view key_path) {
  if (node.IsScalar()) {
    const auto s = node.Scalar();
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  error(node, key_path, "expected true or false");
  return std::nullopt;
}

std::optional<std::int64_t> YamlReader::integer(const Node& node, std::string_view key_path,
                                                std::int64_t min, std::int64_t max) {
  if (node.IsScalar()) {
    const auto s = node.Scalar();
    std::int64_t value = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (!s.empty() && ec == std::errc{} && ptr == s.data() + s.size()) {
      if (value >= min && value <= max) return value;
      error(node, key_path, fmt::format("{} is out of range ({} to {})", value, min, max));
      return std::nullopt;
    }
  }
  error(node, key_path, fmt::format("expected a whole number from {} to {}", min, max));
  return std::nullopt;
}

std::vector<std::pair<std::string, SourcePos>> YamlReader::string_list(const Node& node,
                                                                       std::string_view key_path) {
  std::vector<std::pair<std::string, SourcePos>> out;
  if (node.IsScalar()) {
    out.emplace_back(std::string(node.Scalar()), pos(node));
    return out;
  }
  if (!node.IsSequence()) {
    error(node, key_path, "expected a list of strings");
    return out;
  }
  std::size_t i = 0;
  for (const auto& item : node) {
    if (auto s = string(item, index_path(key_path, i))) out.emplace_back(*s, pos(item));
    ++i;
  }
  return out;
}

std::optional<PortSpec> YamlReader::ports(const Node& node, std::string_view key_path) {
  if (!node.IsScalar()) {
    error(node, key_path, "expected a port (443), a list (\"137,138\") or a range (\"2701-2704\")");
    return std::nullopt;
  }
  std::string why;
  auto spec = parse_port_spec(node.Scalar(), why);
  if (!spec) error(node, key_path, why);
  return spec;
}

namespace {
template <typename T, typename Parse>
std::optional<T> enum_value(YamlReader& r, const Node& node, std::string_view key_path, Parse parse,
                            std::string_view choices) {
  if (node.IsScalar()) {
    if (auto v = parse(node.Scalar())) return v;
    r.error(node, key_path, fmt::format("unknown value '{}' (expected one of: {})", node.Scalar(), choices));
    return std::nullopt;
  }
  r.error(node, key_path, fmt::format("expected one of: {}", choices));
  return std::nullopt;
}
}  // namespace

std::optional<Protocol> YamlReader::protocol(const Node& node, std::string_view key_path) {
  return enum_value<Protocol>(*this, node, key_path, parse_protocol, "tcp, udp, icmp");
}
std::optional<Expect> YamlReader::expect(const Node& node, std::string_view key_path) {
  return enum_value<Expect>(*this, node, key_path, parse_expect,
                              "open, closed, filtered, blocked, reachable, unreachable");
}
std::optional<Severity> YamlReader::severity(const Node& node, std::string_view key_path) {
  return enum_value<Severity>(*this, node, key_path, parse_severity, "warning, critical");
}
std::optional<AddressFamily> YamlReader::address_family(const Node& node, std::string_view key_path) {
  return enum_value<AddressFamily>(*this, node, key_path, parse_address_family, "all, any, ipv4, ipv6");
}
std::optional<Timing> YamlReader::timing(const Node& node, std::string_view key_path) {
  return enum_value<Timing>(*this, node, key_path, parse_timing, "fixed, adaptive");
}
std::optional<Absent> YamlReader::absent(const Node& node, std::string_view key_path) {
  return enum_value<Absent>(*this, node, key_path, parse_absent, "ok, warning, critical");
}

}  // namespace portdrift::config
