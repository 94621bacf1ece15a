#pragma once
// An example topology (config/examples/) built for real in namespaces, with a
// firewall per vantage, for tests that need the whole estate answering as the
// vendor documents say and then a couple of injected drifts.
//
// Every vantage of the topology (its named `vantages:`, else `vantage:`) is
// planned with portdrift's own library. Each host namespace gets the
// topology's addresses and a pd-listen on every TCP/UDP port some vantage
// expects open. Each vantage probes from an address of its own on the
// scanner namespace (--source), and each target's nftables drops (or, for
// `closed`, rejects) that address on the ports the vantage must not reach:
// the perimeter rules a real site has between its subnets. So every vantage's
// check comes out clean until a drift is injected:
//   drop(key)   nftables on the target drops the port for everyone (filtered)
//   expose(key) a listener answers on a port nobody expects open (open)
// expected_drifts(vantage) is then exactly the checks of that vantage's plan
// that the injected states break (verdict::satisfies decides).
//
// Network safety as for Testbed: the scanner has no default route and every
// address is in 198.18.0.0/15 or 2001:2::/48 (an example with another address
// is refused before anything is built).

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "portdrift/runner/setup.hpp"
#include "testbed.hpp"

namespace portdrift::testbed {

// host, address, protocol, port: a probe's target, as the JSON result names it.
struct Target {
  std::string host;
  std::string address;
  Protocol protocol = Protocol::tcp;
  std::uint16_t port = 0;
  auto operator<=>(const Target&) const = default;
};
std::string to_string(const Target& t);  // "host address tcp/443"

class ExampleEstate {
 public:
  ExampleEstate(std::string topology, std::string catalog_dir, std::string pd_listen);
  ~ExampleEstate();
  ExampleEstate(const ExampleEstate&) = delete;
  ExampleEstate& operator=(const ExampleEstate&) = delete;

  // Plans every vantage, builds the namespaces, listeners and firewalls. Throws on any problem.
  void build();

  // Vantage names ("" for the topology's `vantage:` when it names no `vantages:`).
  [[nodiscard]] const std::vector<std::string>& vantages() const noexcept { return names_; }
  [[nodiscard]] const plan::Plan& plan_of(const std::string& vantage) const;
  [[nodiscard]] std::string source_of(const std::string& vantage) const;

  // A TCP check some vantage expects open (the first vantage's, critical first), and
  // a TCP check some vantage expects blocked or closed where none expects open.
  [[nodiscard]] std::optional<Target> pick_open() const;
  [[nodiscard]] std::optional<Target> pick_blocked() const;
  void drop(const Target& t);
  void expose(const Target& t);
  [[nodiscard]] std::set<Target> expected_drifts(const std::string& vantage) const;

  // `portdrift --check` of one vantage from the scanner namespace, from the vantage's source,
  // with a short timeout and no retries (answers on the bridge take well under a millisecond).
  CommandResult check(const std::string& portdrift, const std::string& vantage,
                      const std::vector<std::string>& extra = {});

  [[nodiscard]] Testbed& bed() { return *bed_; }

 private:
  std::string topology_;
  std::string catalog_dir_;
  std::string pd_listen_;
  std::vector<std::string> names_;
  std::map<std::string, runner::Setup> setups_;
  std::unique_ptr<Testbed> bed_;
  std::map<Target, PortState> injected_;
  int drift_tables_ = 0;
};

}  // namespace portdrift::testbed
