// `portdrift explain -c FILE HOST [PORT]`: why a port is expected open or
// blocked on a host, from the same terms `portdrift policy` writes.
#include <charconv>
#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "flags.hpp"

namespace portdrift::cli {
namespace {

constexpr int kUnknown = 3;

constexpr std::string_view kExplainSynopsis =
    "Usage: portdrift explain -c FILE HOST [PORT] [--format text|json] [--catalog-dir DIR]";

constexpr std::string_view kExplainAbout = R"(
Says why PORT (or every documented port) is expected open or blocked on HOST
(a host, a group, a group member or GROUP/ADDRESS): the flows and explicit
checks behind it, their seed documents and components, who may initiate,
the policy term that writes it and whether this vantage probes it.
"no documented flow" for a port nobody asked for. Exit 0, or 3 when HOST
is unknown or the configuration has problems.)";

}  // namespace

CLI::App* add_explain(CLI::App& root, ExplainCommand& c) {
  auto* app = root.add_subcommand("explain", "why a port is expected open or blocked, and by which document");
  app->footer(std::string(kExplainAbout));
  set_synopsis(*app, std::string(kExplainSynopsis));
  add_policy_args(*app, c.common);
  app->add_option("words", c.words, "the host, group or GROUP/ADDRESS, and optionally a port")
      ->type_name("HOST [PORT]");
  return app;
}

int run_explain(const ExplainCommand& c, std::ostream& out) {
  const auto& a = c.common;
  const auto& positional = c.words;
  if (positional.empty() || positional.size() > 2) throw CommandUsage{"explain takes HOST and optionally PORT"};
  std::optional<std::uint16_t> port;
  if (positional.size() == 2) {
    port = parse_port(positional[1]);
    if (!port) throw CommandUsage{fmt::format("PORT is a number from 1 to 65535, not '{}'", positional[1])};
  }
  const auto setup = load_for_policy(a, out);
  if (!setup) return kUnknown;
  const auto built = policy::build_policy(setup->topology, setup->catalog, a.options);
  const auto e = policy::explain(built.policy, setup->catalog, setup->plan, setup->topology, positional[0], port,
                                 a.options.default_action);
  if (a.json) out << policy::explain_json(e).dump(2) << '\n';
  else out << policy::explain_text(e);
  return e.found_host ? 0 : kUnknown;
}

}  // namespace portdrift::cli
