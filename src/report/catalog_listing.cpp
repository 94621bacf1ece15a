#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "portdrift/report/report.hpp"

namespace portdrift::report {
namespace {

std::string ports_of(const catalog::Flow& f) {
  if (f.protocol == Protocol::icmp) return f.icmp_type ? fmt::format("type {}", *f.icmp_type) : "";
  return f.ports_text;
}

}  // namespace

std::string catalog_table(const catalog::Catalog& c) {
  std::string out;
  for (const auto& p : c.products) {
    out += fmt::format("{} - {} (source: {})\n", p.id, p.name, p.source);
    out += "  roles:";
    for (const auto& [role, _] : p.roles) out += " " + role;
    out += "\n";
    std::size_t id_w = 2;
    std::size_t ports_w = 5;
    for (const auto& f : c.flows) {
      if (f.product != p.id) continue;
      id_w = std::max(id_w, f.id.size());
      ports_w = std::max(ports_w, ports_of(f).size());
    }
    out += fmt::format("  {:<{}}  {:<5} {:<{}}  {:<8} {}\n", "ID", id_w, "PROTO", "PORTS", ports_w, "EXPECT",
                       "FROM -> TO  [flags]  component: purpose");
    for (const auto& f : c.flows) {
      if (f.product != p.id) continue;
      std::string flags;
      if (f.configurable) flags += "configurable ";
      if (f.optional) flags += "optional ";
      if (f.dynamic) flags += "dynamic ";
      if (!flags.empty()) flags = fmt::format(" [{}]", flags.substr(0, flags.size() - 1));
      out += fmt::format("  {:<{}}  {:<5} {:<{}}  {:<8} {} -> {}{}  {}: {}\n", f.id, id_w, to_string(f.protocol),
                         ports_of(f), ports_w, to_string(f.expect), f.from, f.to, flags, f.component, f.purpose);
    }
    out += "\n";
  }
  out += fmt::format("{} products, {} flows\n", c.products.size(), c.flows.size());
  return out;
}

std::string catalog_json(const catalog::Catalog& c) {
  using json = nlohmann::ordered_json;
  json arr = json::array();
  for (const auto& f : c.flows) {
    json item = {{"id", f.id},
                 {"product", f.product},
                 {"component", f.component},
                 {"protocol", to_string(f.protocol)},
                 {"ports", f.protocol == Protocol::icmp ? std::string() : f.ports_text},
                 {"from_role", f.from},
                 {"to_role", f.to},
                 {"direction", f.direction},
                 {"service", f.service},
                 {"configurable", f.configurable},
                 {"optional", f.optional},
                 {"dynamic", f.dynamic},
                 {"expect", to_string(f.expect)},
                 {"purpose", f.purpose},
                 {"source", f.source}};
    if (f.icmp_type) item["icmp_type"] = *f.icmp_type;
    arr.push_back(std::move(item));
  }
  return arr.dump(2) + "\n";
}

}  // namespace portdrift::report
