#pragma once
// Subcommands with their own flags (`portdrift policy`, `explain`, `matrix`),
// kept out of cli.cpp's mode parser. cli::run dispatches on the first
// argument and catches what they throw.

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "portdrift/policy/policy.hpp"
#include "portdrift/runner/setup.hpp"

namespace portdrift::cli {

// A usage mistake in a subcommand's arguments; cli::run prints it and exits 3.
struct CommandUsage {
  std::string message;
};

// What both subcommands read: the topology, the catalog and the policy's final term.
struct PolicyArgs {
  std::optional<std::string> config;
  std::optional<std::string> catalog_dir;
  policy::Options options;
  bool json = false;
};

// Takes -c/--config, --catalog-dir, --default and --format at args[i] (advancing i);
// false if args[i] is none of them.
bool take_common(std::span<const std::string_view> args, std::size_t& i, PolicyArgs& a);

// Loads topology, catalog and plan; on problems prints them (file:line:column) and returns nullopt.
std::optional<runner::Setup> load_for_policy(const PolicyArgs& a, std::ostream& out);

int run_policy(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int run_explain(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
// `portdrift matrix`: merges --check --format json results (src/cli/matrix_cmd.cpp).
int run_matrix(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

}  // namespace portdrift::cli
