// `portdrift policy`: writes the capirca policy tree the topology and catalog
// imply, or (--check-against) judges an `nft -j list ruleset` document
// against it. The policy module builds everything; this file parses flags
// and does the file I/O.
#include <algorithm>
#include <array>
#include <fstream>
#include <ostream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "flags.hpp"
#include "portdrift/cli/cli.hpp"

namespace portdrift::cli {
namespace {

constexpr int kUnknown = 3;
constexpr std::string_view kMarker = "# Written by `portdrift policy`";
constexpr std::uintmax_t kMaxRulesetBytes = 64U * 1024U * 1024U;

// The prose of `portdrift policy --help`; the flags' lines come from the parser.
constexpr std::string_view kPolicySynopsis =
    R"(Usage: portdrift policy -c FILE --out DIR [--default deny|accept|none]
                        [--target nftables,iptables,windows_advfirewall,...] [--catalog-dir DIR]
       portdrift policy -c FILE --check-against RULESET.json [--host NAME] [--format text|json])";

constexpr std::string_view kPolicyAbout = R"(
Writes the firewall policy the topology's documented flows imply as a
capirca tree (DIR/def/NETWORK.net, DIR/def/SERVICES.svc,
DIR/policies/pol/LISTENER.pol), to render with capirca's aclgen:
  aclgen --base_directory=DIR/policies --definitions_directory=DIR/def \
         --output_directory=OUT --max_renderers=1
--check-against reads `nft -j list ruleset` output and lists the documented
flows it does not allow, blocked ports it allows and allowed ports no flow
documents, without probing; --host NAME checks only that host's or group's
terms (a ruleset taken from that server) (exit 0 clean, 1 undocumented ports only,
2 documented flows broken, 3 usage or configuration problems).
See docs/policy.md and portdrift(1).)";

constexpr std::array<Choice<policy::DefaultAction>, 3> kDefaults{{{"deny", policy::DefaultAction::deny},
                                                                   {"accept", policy::DefaultAction::accept},
                                                                   {"none", policy::DefaultAction::none}}};
constexpr std::array<Choice<bool>, 2> kJson{{{"text", false}, {"json", true}}};

// capirca platform names: a-z, 0-9, _.
std::string targets_error(const std::string& list) {
  std::size_t at = 0;
  while (at <= list.size()) {
    const auto comma = list.find(',', at);
    const auto item = list.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    const bool valid = !item.empty() && std::all_of(item.begin(), item.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
    if (!valid) return fmt::format("takes capirca platform names (a-z, 0-9, _), not '{}'", item);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return {};
}

// A list targets_error() accepted.
std::vector<std::string> split_targets(std::string_view list) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= list.size()) {
    const auto comma = list.find(',', at);
    out.emplace_back(list.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at));
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  return out;
}

std::string read_file(const std::filesystem::path& p) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(p, ec);
  if (ec) throw CommandUsage{fmt::format("{}: {}", p.string(), ec.message())};
  if (size > kMaxRulesetBytes) throw CommandUsage{fmt::format("{}: larger than {} bytes", p.string(), kMaxRulesetBytes)};
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  if (!in && !in.eof()) throw CommandUsage{fmt::format("{}: cannot read", p.string())};
  return s.str();
}

// Writes the tree; removes .pol files an earlier run wrote for listeners that are gone (aclgen renders every one).
bool write_tree(const std::filesystem::path& dir, const std::vector<std::pair<std::string, std::string>>& files,
                std::ostream& err) {
  std::error_code ec;
  const auto pol_dir = dir / "policies" / "pol";
  if (std::filesystem::is_directory(pol_dir, ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(pol_dir, ec)) {
      if (entry.path().extension() != ".pol") continue;
      std::ifstream in(entry.path());
      std::string first;
      std::getline(in, first);
      if (first.starts_with(kMarker)) std::filesystem::remove(entry.path(), ec);
    }
  }
  for (const auto& [rel, text] : files) {
    const auto path = dir / rel;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      err << fmt::format("portdrift: {}: {}\n", path.parent_path().string(), ec.message());
      return false;
    }
    std::ofstream o(path, std::ios::binary | std::ios::trunc);
    o << text;
    o.close();
    if (!o) {
      err << fmt::format("portdrift: cannot write {}\n", path.string());
      return false;
    }
  }
  return true;
}

}  // namespace

void add_policy_args(CLI::App& app, PolicyArgs& a) {
  app.add_option("-c,--config", a.config, "topology file (YAML; see portdrift-topology(5))")->type_name("FILE");
  app.add_option("--catalog-dir", a.catalog_dir, "catalog data files (default: the installed catalog)")
      ->type_name("DIR");
  add_choice(app, "--default", kDefaults, a.options.default_action,
             "each filter's final term (default: deny)");
  add_choice(app, "--format", kJson, a.json, "text (default) or json");
}

std::optional<runner::Setup> load_for_policy(const PolicyArgs& a, std::ostream& out) {
  if (!a.config) throw CommandUsage{"a topology is needed: -c FILE"};
  const auto dir = a.catalog_dir ? std::filesystem::path(*a.catalog_dir) : default_catalog_dir();
  auto l = runner::load_setup(*a.config, dir, {});
  if (!l.ok()) {
    for (const auto& d : l.diagnostics) out << format(d) << '\n';
    out << fmt::format("{} configuration problem{} ({}); nothing written\n", l.diagnostics.size(),
                       l.diagnostics.size() == 1 ? "" : "s", *a.config);
    return std::nullopt;
  }
  return std::move(l.setup);
}

CLI::App* add_policy(CLI::App& root, PolicyCommand& c) {
  auto* app = root.add_subcommand("policy", "the firewall policy the documents imply (capirca), or --check-against "
                                            "an nft ruleset");
  app->footer(std::string(kPolicyAbout));
  set_synopsis(*app, std::string(kPolicySynopsis));
  add_policy_args(*app, c.common);
  app->add_option("--out", c.out_dir, "write the capirca tree here")->type_name("DIR");
  app->add_option_function<std::string>(
         "--target", [&c](const std::string& v) { c.common.options.targets = split_targets(v); },
         "capirca platforms for the policies' headers, comma-separated")
      ->type_name("LIST")
      ->check(CLI::Validator([](std::string& v) { return targets_error(v); }, ""));
  app->add_option("--check-against", c.check_against, "an `nft -j list ruleset` document to judge, not probed")
      ->type_name("FILE");
  app->add_option("--host", c.host, "with --check-against: only this host's or group's terms")->type_name("NAME");
  return app;
}

int run_policy(const PolicyCommand& c, std::ostream& out, std::ostream& err) {
  const auto& a = c.common;
  const auto& out_dir = c.out_dir;
  const auto& check_against = c.check_against;
  const auto& host = c.host;
  if (out_dir.has_value() == check_against.has_value()) {
    throw CommandUsage{"policy needs one of --out DIR (write the capirca tree) or --check-against FILE"};
  }
  const auto setup = load_for_policy(a, out);
  if (!setup) return kUnknown;
  const auto built = policy::build_policy(setup->topology, setup->catalog, a.options);
  for (const auto& d : built.diagnostics) out << format(d) << '\n';
  if (!built.ok()) return kUnknown;
  const auto& pol = built.policy;
  if (check_against) {
    nlohmann::json doc;
    try {
      doc = nlohmann::json::parse(read_file(*check_against));
    } catch (const nlohmann::json::parse_error& e) {
      out << fmt::format("{}: not JSON: {}\n", *check_against, e.what());
      return kUnknown;
    }
    if (host && pol.filter(*host) == nullptr) {
      out << fmt::format("--host {}: no host or group of {} has inbound terms\n", *host, *a.config);
      return kUnknown;
    }
    policy::RulesetCheck r;
    try {
      r = host ? policy::check_against(pol, doc, *host) : policy::check_against(pol, doc);
    } catch (const nlohmann::json::exception& e) {
      // JSON of another shape than `nft -j list ruleset` writes (a key of the wrong type, a short range).
      out << fmt::format("{}: not an nft -j ruleset: {}\n", *check_against, e.what());
      return kUnknown;
    }
    if (a.json) {
      auto list = [](const std::vector<policy::Finding>& fs) {
        auto j = nlohmann::json::array();
        for (const auto& f : fs) {
          j.push_back({{"host", f.host}, {"address", f.address}, {"protocol", std::string(to_string(f.protocol))},
                       {"ports", f.ports}, {"what", f.what}, {"from", f.from}});
        }
        return j;
      };
      out << nlohmann::json{{"missing", list(r.missing)}, {"exposed", list(r.exposed)},
                            {"undocumented", list(r.undocumented)}, {"notes", r.notes}, {"evaluated", r.evaluated}}
                 .dump(2)
          << '\n';
    } else {
      out << policy::ruleset_check_text(r);
    }
    if (!r.missing.empty() || !r.exposed.empty()) return 2;
    return r.undocumented.empty() ? 0 : 1;
  }
  if (!write_tree(*out_dir, policy::render(pol, a.options), err)) return kUnknown;
  std::size_t infra = 0;
  for (const auto& f : pol.filters) {
    for (const auto& t : f.terms) infra += t.kind == policy::Term::Kind::infrastructure ? 1 : 0;
  }
  out << fmt::format("{}: {} filters, {} terms from flows and checks (+{} infrastructure, {} final '{}'), "
                     "{} networks, {} services\n",
                     *out_dir, pol.filters.size(), pol.term_count(), infra,
                     a.options.default_action == policy::DefaultAction::none ? 0 : pol.filters.size(),
                     to_string(a.options.default_action), pol.networks.size(), pol.services.size());
  for (const auto& n : pol.notes) out << "note: " << n << '\n';
  out << fmt::format("render: aclgen --base_directory={0}/policies --definitions_directory={0}/def "
                     "--output_directory=OUT --max_renderers=1\n",
                     *out_dir);
  return 0;
}

}  // namespace portdrift::cli
