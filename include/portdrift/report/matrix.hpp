#pragma once
// The flow matrix of a rollout: merges the `--check --format json` results
// of several vantages (and shards) of one topology into one answer, a Nagios
// status line over all of them, a text matrix and a self-contained HTML page.
// Rows are "vantage/from_role", columns the to_role; a check no catalog flow
// decided (no roles: an explicit check) sits in the row "vantage/explicit"
// under its group, or its host when it has none.
//
// Must not: read files or probe (cli reads the results and passes their text).

#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portdrift::report {

// One result file as the cli read it: its name (for messages) and its text.
struct MatrixInput {
  std::string file;
  std::string text;
};

// A check that is not ok, as the cell shows it.
struct MatrixProblem {
  std::string host, address, protocol, port, expected, observed, reason, verdict, flow, vantage;
};

struct MatrixCell {
  std::size_t checks = 0, ok = 0, drifted = 0;
  std::vector<MatrixProblem> problems;  // every check whose verdict is not ok, drifts first in file order
};

struct Matrix {
  std::vector<std::string> rows;     // "vantage/from_role", sorted
  std::vector<std::string> columns;  // to_role (or group / host), sorted
  std::map<std::pair<std::string, std::string>, MatrixCell> cells;  // (row, column)
  std::string topology;  // "file (hash)" shared by the results
  std::size_t results = 0, checks = 0, ok = 0, drifted = 0;
  int exit_code = 0;  // the worst of the results: UNKNOWN (3) > CRITICAL (2) > WARNING (1) > OK (0)
  std::vector<std::string> unknown;  // "file: message" of results that could not run
};

struct MatrixResult {
  Matrix matrix;
  std::string error;  // names the file(s): invalid JSON, different topologies, duplicate vantage
  [[nodiscard]] bool ok() const noexcept { return error.empty(); }
};

MatrixResult build_matrix(std::span<const MatrixInput> inputs);

// `PORTDRIFT STATUS - ... | perfdata`, then the text matrix and the problems.
std::string matrix_text(const Matrix& m);
// One HTML file, inline CSS and JS only. Cells: <td id="cell-R-C" data-from data-to
// data-checks data-ok data-drifted class="ok|drift|other|none">.
std::string matrix_html(const Matrix& m);
// Text for HTML element content and attribute values: & < > " ' escaped.
std::string html_escape(std::string_view text);

}  // namespace portdrift::report
