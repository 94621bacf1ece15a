#pragma once
// A strict reader over yaml-cpp trees, shared by the topology and catalog
// loaders. It turns every problem (not a mapping, duplicate or unknown key,
// wrong scalar type, value out of range) into a Diagnostic with file, line,
// column and key path, and keeps going so that a file's problems are all
// reported at once. It never throws.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "portdrift/core/diagnostic.hpp"
#include "portdrift/core/ports.hpp"
#include "portdrift/core/types.hpp"

namespace portdrift::config {

// The entries of one YAML mapping, after duplicate and unknown keys were reported.
class MapView {
 public:
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
  };
  [[nodiscard]] std::optional<YAML::Node> get(std::string_view key) const;
  [[nodiscard]] const std::vector<Entry>& entries() const noexcept { return entries_; }

 private:
  friend class YamlReader;
  std::vector<Entry> entries_;
};

class YamlReader {
 public:
  YamlReader(std::string file, Diagnostics& out) : file_(std::move(file)), out_(out) {}

  // Parses a whole document from a file or from text. Missing/unreadable
  // files, syntax errors and empty documents become diagnostics (nullopt).
  std::optional<YAML::Node> load_file(const std::string& path);
  std::optional<YAML::Node> load_text(std::string_view text);

  void error(const YAML::Node& at, std::string_view key_path, std::string message);
  void error(SourcePos pos, std::string_view key_path, std::string message);
  [[nodiscard]] static SourcePos pos(const YAML::Node& node) noexcept;
  [[nodiscard]] const std::string& file() const noexcept { return file_; }

  // A mapping whose keys must all be in `allowed`; nullopt if it is not a mapping.
  std::optional<MapView> mapping(const YAML::Node& node, std::string_view key_path,
                                 std::initializer_list<std::string_view> allowed);
  // A mapping with arbitrary keys (duplicates still reported).
  std::optional<MapView> any_mapping(const YAML::Node& node, std::string_view key_path);

  std::optional<std::string> string(const YAML::Node& node, std::string_view key_path);
  std::optional<bool> boolean(const YAML::Node& node, std::string_view key_path);
  std::optional<std::int64_t> integer(const YAML::Node& node, std::string_view key_path, std::int64_t min,
                                      std::int64_t max);
  // A sequence of strings; a lone scalar is accepted as a one-element list.
  std::vector<std::pair<std::string, SourcePos>> string_list(const YAML::Node& node, std::string_view key_path);
  std::optional<PortSpec> ports(const YAML::Node& node, std::string_view key_path);
  std::optional<Protocol> protocol(const YAML::Node& node, std::string_view key_path);
  std::optional<Expect> expect(const YAML::Node& node, std::string_view key_path);
  std::optional<Severity> severity(const YAML::Node& node, std::string_view key_path);

 private:
  std::optional<MapView> read_map(const YAML::Node& node, std::string_view key_path,
                                  const std::initializer_list<std::string_view>* allowed);
  std::string file_;
  Diagnostics& out_;
};

std::string join_path(std::string_view parent, std::string_view key);
std::string index_path(std::string_view parent, std::size_t index);

}  // namespace portdrift::config
