#pragma once
// A strict reader over YAML documents (see yaml_document.hpp), shared by the topology and catalog
// loaders. It turns every problem (not a mapping, duplicate or unknown key,
// wrong scalar type, value out of range) into a Diagnostic with file, line,
// column and key path, and keeps going so that a file's problems are all
// reported at once. It never throws.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


#include "portdrift/core/diagnostic.hpp"
#include "portdrift/core/ports.hpp"
#include "portdrift/core/types.hpp"
#include "portdrift/config/yaml_document.hpp"

namespace portdrift::config {

// The entries of one YAML mapping, after duplicate and unknown keys were reported.
class MapView {
 public:
  struct Entry {
    std::string key;
    Node key_node;
    Node value;
  };
  [[nodiscard]] std::optional<Node> get(std::string_view key) const;
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
  // The returned node lives as long as this reader.
  std::optional<Node> load_file(const std::string& path);
  std::optional<Node> load_text(std::string_view text);

  void error(const Node& at, std::string_view key_path, std::string message);
  void error(SourcePos pos, std::string_view key_path, std::string message);
  // Diagnostics about another file (an inventory), kept in order with this file's.
  void append(Diagnostics&& other);
  [[nodiscard]] static SourcePos pos(const Node& node) noexcept;
  [[nodiscard]] const std::string& file() const noexcept { return file_; }

  // A mapping whose keys must all be in `allowed`; nullopt if it is not a mapping.
  std::optional<MapView> mapping(const Node& node, std::string_view key_path,
                                 std::initializer_list<std::string_view> allowed);
  std::optional<MapView> mapping(const Node& node, std::string_view key_path,
                                 std::span<const std::string_view> allowed);
  // A mapping with arbitrary keys (duplicates still reported).
  std::optional<MapView> any_mapping(const Node& node, std::string_view key_path);

  std::optional<std::string> string(const Node& node, std::string_view key_path);
  std::optional<bool> boolean(const Node& node, std::string_view key_path);
  std::optional<std::int64_t> integer(const Node& node, std::string_view key_path, std::int64_t min,
                                      std::int64_t max);
  // A sequence of strings; a lone scalar is accepted as a one-element list.
  std::vector<std::pair<std::string, SourcePos>> string_list(const Node& node, std::string_view key_path);
  std::optional<PortSpec> ports(const Node& node, std::string_view key_path);
  std::optional<Protocol> protocol(const Node& node, std::string_view key_path);
  std::optional<Expect> expect(const Node& node, std::string_view key_path);
  std::optional<Severity> severity(const Node& node, std::string_view key_path);
  std::optional<AddressFamily> address_family(const Node& node, std::string_view key_path);
  std::optional<Absent> absent(const Node& node, std::string_view key_path);  // ok, warning, critical
  std::optional<Timing> timing(const Node& node, std::string_view key_path);

 private:
  std::optional<MapView> read_map(const Node& node, std::string_view key_path,
                                  const std::span<const std::string_view>* allowed);
  std::string file_;
  Diagnostics& out_;
  Document doc_;
};

std::string join_path(std::string_view parent, std::string_view key);
std::string index_path(std::string_view parent, std::size_t index);

}  // namespace portdrift::config
