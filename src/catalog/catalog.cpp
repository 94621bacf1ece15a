#include "portdrift/catalog/catalog.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>

#include "portdrift/config/yaml_reader.hpp"

namespace portdrift::catalog {

using config::index_path;
using config::join_path;
using config::MapView;
using config::Node;
using config::YamlReader;

const Product* Catalog::product(std::string_view id) const noexcept {
  for (const auto& p : products) {
    if (p.id == id) return &p;
  }
  return nullptr;
}

const Flow* Catalog::flow(std::string_view id) const noexcept {
  for (const auto& f : flows) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

bool Catalog::has_role(std::string_view role) const noexcept {
  return std::any_of(products.begin(), products.end(), [&](const Product& p) { return p.roles.contains(role); });
}

std::vector<std::string> Catalog::role_names() const {
  std::vector<std::string> out;
  for (const auto& p : products) {
    for (const auto& [role, _] : p.roles) out.push_back(role);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

bool valid_id(std::string_view id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

struct Required {
  YamlReader& r;
  const MapView& m;
  const Node& node;
  const std::string& path;

  std::optional<Node> operator()(std::string_view key) const {
    auto n = m.get(key);
    if (!n) r.error(node, join_path(path, key), "missing (required on every flow)");
    return n;
  }
};

void read_flow(YamlReader& r, const Node& node, const std::string& path, const Product& product,
               std::vector<Flow>& out) {
  auto m = r.mapping(node, path,
                     {"id", "component", "protocol", "ports", "icmp_type", "from", "to", "direction", "service",
                      "configurable", "optional", "dynamic", "expect", "purpose", "source"});
  if (!m) return;
  const Required need{r, *m, node, path};
  Flow f;
  f.product = product.id;
  bool ok = true;
  auto str = [&](std::string_view key, std::string& field) {
    if (auto n = need(key)) {
      if (auto s = r.string(*n, join_path(path, key))) {
        field = *s;
        return true;
      }
    }
    ok = false;
    return false;
  };
  auto flag = [&](std::string_view key, bool& field) {
    if (auto n = need(key)) {
      if (auto b = r.boolean(*n, join_path(path, key))) {
        field = *b;
        return;
      }
    }
    ok = false;
  };
  if (str("id", f.id) && !valid_id(f.id)) {
    r.error(*m->get("id"), join_path(path, "id"), "ids use only a-z, 0-9 and '-'");
    ok = false;
  }
  str("component", f.component);
  if (auto n = need("protocol")) {
    if (auto p = r.protocol(*n, join_path(path, "protocol"))) {
      f.protocol = *p;
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }
  if (auto n = m->get("ports")) {
    if (f.protocol == Protocol::icmp) {
      r.error(*n, join_path(path, "ports"), "icmp flows have no ports (use icmp_type)");
      ok = false;
    } else if (auto p = r.ports(*n, join_path(path, "ports"))) {
      f.ports = std::move(*p);
      f.ports_text = std::string(n->Scalar());
    } else {
      ok = false;
    }
  } else if (f.protocol != Protocol::icmp) {
    r.error(node, join_path(path, "ports"), "missing (required for tcp and udp flows)");
    ok = false;
  }
  if (auto n = m->get("icmp_type")) {
    if (f.protocol != Protocol::icmp) {
      r.error(*n, join_path(path, "icmp_type"), "only icmp flows have an icmp_type");
      ok = false;
    } else if (auto t = r.integer(*n, join_path(path, "icmp_type"), 0, 255)) {
      f.icmp_type = static_cast<int>(*t);
    }
  }
  for (auto [key, field] : {std::pair<std::string_view, std::string*>{"from", &f.from}, {"to", &f.to}}) {
    if (!str(key, *field)) continue;
    const bool any_ok = key == "from" && *field == kAnyRole;
    if (!any_ok && !product.roles.contains(*field)) {
      r.error(*m->get(key), join_path(path, key),
              fmt::format("role '{}' is not declared under `roles` in this file", *field));
      ok = false;
    }
  }
  if (str("direction", f.direction)) {
    static constexpr std::string_view kDirections[] = {"inbound", "outbound", "both", "unspecified"};
    if (std::find(std::begin(kDirections), std::end(kDirections), f.direction) == std::end(kDirections)) {
      r.error(*m->get("direction"), join_path(path, "direction"),
              "expected one of: inbound, outbound, both, unspecified");
      ok = false;
    }
  }
  str("service", f.service);
  flag("configurable", f.configurable);
  flag("optional", f.optional);
  flag("dynamic", f.dynamic);
  if (auto n = need("expect")) {
    if (auto e = r.expect(*n, join_path(path, "expect"))) {
      f.expect = *e;
    } else {
      ok = false;
    }
  } else {
    ok = false;
  }
  str("purpose", f.purpose);
  if (str("source", f.source) && f.source != product.source) {
    r.error(*m->get("source"), join_path(path, "source"),
            fmt::format("'{}' differs from the file's source '{}'", f.source, product.source));
    ok = false;
  }
  if (ok) out.push_back(std::move(f));
}

}  // namespace

void parse_catalog_file(std::string_view text, const std::string& file, CatalogResult& into) {
  YamlReader r(file, into.diagnostics);
  auto root = r.load_text(text);
  if (!root) return;
  auto m = r.mapping(*root, "", {"product", "name", "source", "roles", "flows"});
  if (!m) return;
  Product p;
  p.file = file;
  for (auto [key, field] : {std::pair<std::string_view, std::string*>{"product", &p.id}, {"name", &p.name},
                            {"source", &p.source}}) {
    if (auto n = m->get(key)) {
      if (auto s = r.string(*n, key)) *field = *s;
    } else {
      r.error(*root, key, "missing");
    }
  }
  if (!p.id.empty() && into.catalog.product(p.id) != nullptr) {
    r.error(*m->get("product"), "product", fmt::format("product '{}' is defined by another catalog file too", p.id));
    return;
  }
  if (auto roles = m->get("roles")) {
    if (auto rm = r.any_mapping(*roles, "roles")) {
      for (const auto& e : rm->entries()) {
        if (!valid_id(e.key) || e.key == kAnyRole) {
          r.error(e.key_node, join_path("roles", e.key), "role ids use only a-z, 0-9 and '-' ('any' is reserved)");
          continue;
        }
        auto desc = r.string(e.value, join_path("roles", e.key));
        p.roles.emplace(e.key, desc.value_or(""));
      }
    }
  } else {
    r.error(*root, "roles", "missing");
  }
  std::vector<Flow> flows;
  if (auto fl = m->get("flows")) {
    if (!fl->IsSequence()) {
      r.error(*fl, "flows", "expected a list of flows");
    } else {
      std::size_t i = 0;
      for (const auto& f : *fl) read_flow(r, f, index_path("flows", i++), p, flows);
    }
  } else {
    r.error(*root, "flows", "missing");
  }
  for (auto& f : flows) {
    if (const auto* other = into.catalog.flow(f.id)) {
      into.diagnostics.push_back(
          Diagnostic{file, {}, "flows", fmt::format("flow id '{}' is used twice (also in product {})", f.id, other->product)});
      continue;
    }
    into.catalog.flows.push_back(std::move(f));
  }
  into.catalog.products.push_back(std::move(p));
}

CatalogResult load_catalog(const std::filesystem::path& dir) {
  CatalogResult result;
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  if (ec) {
    result.diagnostics.push_back(Diagnostic{dir.string(), {}, "", fmt::format("cannot read catalog directory: {}", ec.message())});
    return result;
  }
  if (files.empty()) {
    result.diagnostics.push_back(Diagnostic{dir.string(), {}, "", "no catalog files (*.yaml) in this directory"});
    return result;
  }
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream buf;
    buf << in.rdbuf();
    if (!in) {
      result.diagnostics.push_back(Diagnostic{path.string(), {}, "", "cannot read file"});
      continue;
    }
    parse_catalog_file(buf.str(), path.string(), result);
  }
  return result;
}

}  // namespace portdrift::catalog
