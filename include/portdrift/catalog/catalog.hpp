#pragma once
// The built-in catalog: the flows each vendor document gives, loaded from
// config/catalog/*.yaml (one file per product). Each flow names its initiator
// and listener roles, protocol, ports and the expected state, and the seed
// document it came from. This module loads and validates data; it decides
// nothing about what gets probed (that is the plan's job).

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "portdrift/core/diagnostic.hpp"
#include "portdrift/core/ports.hpp"
#include "portdrift/core/types.hpp"

namespace portdrift::catalog {

// `any` in a flow's `from` means: whatever this instance's vantage is.
inline constexpr std::string_view kAnyRole = "any";

struct Flow {
  std::string id;
  std::string product;
  std::string component;
  Protocol protocol = Protocol::tcp;
  PortSpec ports;           // empty for icmp
  std::string ports_text;   // as written: "443", "137,138", "1024-65535"
  std::optional<int> icmp_type;
  std::string from;         // initiator role
  std::string to;           // listener role
  std::string direction;    // as the document states it
  std::string service;
  bool configurable = false;
  bool optional = false;
  bool dynamic = false;     // ephemeral/random range: never probed port by port
  Expect expect = Expect::open;
  std::string purpose;
  std::string source;       // seed document file name
};

struct Product {
  std::string id;
  std::string name;
  std::string source;
  std::string file;
  std::map<std::string, std::string, std::less<>> roles;  // id -> description
};

class Catalog {
 public:
  std::vector<Product> products;
  std::vector<Flow> flows;

  [[nodiscard]] const Product* product(std::string_view id) const noexcept;
  [[nodiscard]] const Flow* flow(std::string_view id) const noexcept;
  [[nodiscard]] bool has_role(std::string_view role) const noexcept;
  [[nodiscard]] std::vector<std::string> role_names() const;
};

struct CatalogResult {
  Catalog catalog;
  Diagnostics diagnostics;
  [[nodiscard]] bool ok() const noexcept { return diagnostics.empty(); }
};

// Loads every *.yaml in `dir`, in name order.
CatalogResult load_catalog(const std::filesystem::path& dir);
// Adds one product's file (text) to `into`; `file` labels diagnostics.
void parse_catalog_file(std::string_view text, const std::string& file, CatalogResult& into);

}  // namespace portdrift::catalog
