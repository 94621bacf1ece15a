// The catalog must hold every port of the seed documents. The expected list,
// tests/data/seed_ports.yaml, was counted by hand from the documents
// independently of the catalog files; each entry says where in the document
// the port stands. Both directions are checked: every counted port is in a
// catalog flow naming that seed as its source, and every catalog port was
// counted (so the catalog invents nothing).

#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <tuple>

#include <yaml-cpp/yaml.h>

#include "portdrift/catalog/catalog.hpp"

namespace portdrift::catalog {
namespace {

struct Counted {
  std::string seed;
  Protocol protocol;
  std::string ports;  // "443", "1024-65535" or an ICMP type
  std::string where;
};

std::vector<Counted> counted() {
  std::vector<Counted> out;
  const auto root = YAML::LoadFile(std::string(PORTDRIFT_TEST_DATA_DIR) + "/seed_ports.yaml");
  for (const auto& seed : root) {
    for (const auto& e : seed.second) {
      out.push_back({seed.first.as<std::string>(), *parse_protocol(e["protocol"].as<std::string>()),
                     e["ports"].as<std::string>(), e["where"].as<std::string>("")});
    }
  }
  return out;
}

// "1024-65536" in a document means "up to the last port".
PortRange as_range(const std::string& ports) {
  const auto dash = ports.find('-');
  const auto first = std::stoul(ports.substr(0, dash));
  const auto last = dash == std::string::npos ? first : std::min(std::stoul(ports.substr(dash + 1)), 65535UL);
  return {static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)};
}

bool covered(const Catalog& c, const Counted& want) {
  for (const auto& f : c.flows) {
    if (f.source != want.seed || f.protocol != want.protocol) continue;
    if (want.protocol == Protocol::icmp) {
      if (f.icmp_type && std::to_string(*f.icmp_type) == want.ports) return true;
      continue;
    }
    if (f.ports.covers(as_range(want.ports))) return true;
  }
  return false;
}

TEST(SeedCoverage, EveryCountedPortIsInTheCatalogWithItsSource) {
  const auto cat = load_catalog(PORTDRIFT_CATALOG_DIR);
  ASSERT_TRUE(cat.ok());
  const auto list = counted();
  ASSERT_GT(list.size(), 100U) << "the hand count looks truncated";
  std::size_t missing = 0;
  for (const auto& want : list) {
    if (!covered(cat.catalog, want)) {
      ++missing;
      ADD_FAILURE() << want.seed << ": " << to_string(want.protocol) << " " << want.ports << " (" << want.where
                    << ") has no catalog flow with that source";
    }
  }
  EXPECT_EQ(missing, 0U);
}

TEST(SeedCoverage, EveryCatalogPortWasCounted) {
  const auto cat = load_catalog(PORTDRIFT_CATALOG_DIR);
  ASSERT_TRUE(cat.ok());
  std::set<std::tuple<std::string, Protocol, std::uint16_t, std::uint16_t>> known;
  for (const auto& c : counted()) {
    if (c.protocol == Protocol::icmp) continue;
    const auto r = as_range(c.ports);
    known.emplace(c.seed, c.protocol, r.first, r.last);
  }
  for (const auto& f : cat.catalog.flows) {
    if (f.protocol == Protocol::icmp) continue;
    for (const auto& r : f.ports.ranges) {
      bool found = known.contains({f.source, f.protocol, r.first, r.last});
      // A single port counted inside a counted range is fine too.
      for (auto it = known.begin(); !found && it != known.end(); ++it) {
        found = std::get<0>(*it) == f.source && std::get<1>(*it) == f.protocol && std::get<2>(*it) <= r.first &&
                r.last <= std::get<3>(*it) && std::get<2>(*it) != std::get<3>(*it);
      }
      EXPECT_TRUE(found) << f.id << ": " << to_string(f.protocol) << " " << r.first << "-" << r.last
                         << " is not in the hand count for " << f.source;
    }
  }
}

TEST(SeedCoverage, SourcesNameRealSeedFiles) {
  const auto cat = load_catalog(PORTDRIFT_CATALOG_DIR);
  ASSERT_TRUE(cat.ok());
  std::set<std::string> seeds;
  for (const auto& c : counted()) seeds.insert(c.seed);
  EXPECT_EQ(seeds.size(), 5U);
  const bool have_seeds = std::filesystem::is_directory(PORTDRIFT_SEEDS_DIR);
  for (const auto& f : cat.catalog.flows) {
    EXPECT_TRUE(seeds.contains(f.source)) << f.id << " names source " << f.source;
    if (have_seeds) {
      EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(PORTDRIFT_SEEDS_DIR) / f.source)) << f.source;
    }
  }
}

}  // namespace
}  // namespace portdrift::catalog
