// `portdrift matrix RESULT.json... [--format text|html] [-o FILE]`: the flow
// matrix over the `--check --format json` results of several vantages.
#include <array>
#include <fstream>
#include <iterator>
#include <ostream>

#include <fmt/format.h>

#include "commands.hpp"
#include "flags.hpp"
#include "portdrift/report/matrix.hpp"

namespace portdrift::cli {
namespace {

constexpr int kUnknown = 3;

constexpr std::string_view kMatrixSynopsis = "Usage: portdrift matrix RESULT.json... [--format text|html] [-o FILE]";

constexpr std::string_view kMatrixAbout = R"(
Merges the `portdrift --check --format json` results of several vantages
(and shards) of one topology: a Nagios status line over all of them (the
worst status wins), then the flow matrix, rows "vantage/from_role", columns
to_role, cells ok/drifted. --format html writes one self-contained page
where each cell opens its problem checks. Exit 0/1/2/3 as the worst result;
3 when a file cannot be read, is no result, or the results come from
different topologies or repeat a vantage and shard.)";

constexpr std::array<Choice<bool>, 2> kHtml{{{"text", false}, {"html", true}}};

}  // namespace

CLI::App* add_matrix(CLI::App& root, MatrixCommand& c) {
  auto* app = root.add_subcommand("matrix", "the flow matrix over many vantages' --check --format json results");
  app->footer(std::string(kMatrixAbout));
  set_synopsis(*app, std::string(kMatrixSynopsis));
  add_choice(*app, "--format", kHtml, c.html, "text (default) or html (one self-contained page)");
  app->add_option("-o,--output", c.output, "write the matrix to FILE, the status line to stdout")->type_name("FILE");
  app->add_option("files", c.files, "--check --format json results")->type_name("RESULT.json...");
  return app;
}

int run_matrix(const MatrixCommand& c, std::ostream& out, std::ostream& err) {
  const auto& files = c.files;
  const auto& output = c.output;
  const bool html = c.html;
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
