// `portdrift matrix RESULT.json... [--format text|html] [-o FILE]`: the flow
// matrix over the `--check --format json` results of several vantages.
#include <fstream>
#include <iterator>
#include <ostream>

#include <fmt/format.h>

#include "commands.hpp"
#include "portdrift/report/matrix.hpp"

namespace portdrift::cli {
namespace {

constexpr int kUnknown = 3;

constexpr std::string_view kMatrixHelp = R"(Usage: portdrift matrix RESULT.json... [--format text|html] [-o FILE]

Merges the `portdrift --check --format json` results of several vantages
(and shards) of one topology: a Nagios status line over all of them (the
worst status wins), then the flow matrix, rows "vantage/from_role", columns
to_role, cells ok/drifted. --format html writes one self-contained page
where each cell opens its problem checks. Exit 0/1/2/3 as the worst result;
3 when a file cannot be read, is no result, or the results come from
different topologies or repeat a vantage and shard.
)";

}  // namespace

int run_matrix(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  bool html = false;
  std::optional<std::string> output;
  std::vector<std::string> files;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const auto arg = args[i];
    if (arg == "-h" || arg == "--help") {
      out << kMatrixHelp;
      return 0;
    }
    if (arg == "--format" || arg == "-o" || arg == "--output") {
      if (i + 1 >= args.size()) throw CommandUsage{fmt::format("{} needs a value", arg)};
      const auto value = args[++i];
      if (arg != "--format") output = std::string(value);
      else if (value == "html") html = true;
      else if (value != "text") throw CommandUsage{fmt::format("--format is text or html, not '{}'", value)};
      continue;
    }
    if (arg.starts_with("-")) throw CommandUsage{fmt::format("unknown option '{}' for matrix", arg)};
    files.emplace_back(arg);
  }
  if (files.empty()) throw CommandUsage{"matrix takes one or more RESULT.json files"};
  std::vector<report::MatrixInput> inputs;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in && !in.eof()) {
      err << "portdrift: " << f << ": cannot read\n";
      out << "PORTDRIFT UNKNOWN - " << f << ": cannot read\n";
      return kUnknown;
    }
    inputs.push_back({f, std::move(text)});
  }
  const auto built = report::build_matrix(inputs);
  if (!built.ok()) {
    err << "portdrift: " << built.error << '\n';
    out << "PORTDRIFT UNKNOWN - " << built.error << '\n';
    return kUnknown;
  }
  const auto text = html ? report::matrix_html(built.matrix) : report::matrix_text(built.matrix);
  if (output) {
    std::ofstream file(*output, std::ios::binary | std::ios::trunc);
    file << text;
    if (!file.flush()) {
      err << "portdrift: " << *output << ": cannot write\n";
      return kUnknown;
    }
    if (html) out << report::matrix_text(built.matrix);  // the status line (and matrix) for the log
  } else {
    out << text;
  }
  return built.matrix.exit_code;
}

}  // namespace portdrift::cli
