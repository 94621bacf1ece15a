#pragma once
// Subcommands with their own flags (`portdrift policy`, `explain`, `matrix`),
// kept out of cli.cpp's modes. Each file adds its subcommand to the one CLI11
// app that cli.cpp builds, into a struct of its own, and runs it once parsed;
// cli::run catches what they throw.

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "portdrift/policy/policy.hpp"
#include "portdrift/runner/setup.hpp"

namespace CLI {
class App;
}

namespace portdrift::cli {

// A usage mistake in a subcommand's arguments; cli::run prints it and exits 3.
struct CommandUsage {
  std::string message;
};

// What both policy and explain read: the topology, the catalog and the policy's final term.
struct PolicyArgs {
  std::optional<std::string> config;
  std::optional<std::string> catalog_dir;
  policy::Options options;
  bool json = false;
};

struct PolicyCommand {
  PolicyArgs common;
  std::optional<std::string> out_dir, check_against, host;
};

struct ExplainCommand {
  PolicyArgs common;
  std::vector<std::string> words;  // HOST [PORT]
};

struct MatrixCommand {
  bool html = false;
  std::optional<std::string> output;
  std::vector<std::string> files;
};

// Adds -c/--config, --catalog-dir, --default and --format to a subcommand.
void add_policy_args(CLI::App& app, PolicyArgs& a);

// Loads topology, catalog and plan; on problems prints them (file:line:column) and returns nullopt.
std::optional<runner::Setup> load_for_policy(const PolicyArgs& a, std::ostream& out);

// Each adds its subcommand to `root`, parsing into `c`.
CLI::App* add_policy(CLI::App& root, PolicyCommand& c);
CLI::App* add_explain(CLI::App& root, ExplainCommand& c);
// `portdrift matrix`: merges --check --format json results (src/cli/matrix_cmd.cpp).
CLI::App* add_matrix(CLI::App& root, MatrixCommand& c);

int run_policy(const PolicyCommand& c, std::ostream& out, std::ostream& err);
int run_explain(const ExplainCommand& c, std::ostream& out);
int run_matrix(const MatrixCommand& c, std::ostream& out, std::ostream& err);

}  // namespace portdrift::cli
