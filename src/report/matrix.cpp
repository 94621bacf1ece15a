#include "portdrift/report/matrix.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "portdrift/report/report.hpp"

namespace portdrift::report {
namespace {

using Json = nlohmann::json;

// Fields read without throwing: a missing or mistyped field is "".
std::string text_of(const Json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<long long>());
  return {};
}

const char* status_name(int code) {
  switch (code) {
    case 0: return "OK";
    case 1: return "WARNING";
    case 2: return "CRITICAL";
    default: return "UNKNOWN";
  }
}

std::string instance_name(const std::string& vantage, const std::string& shard) {
  std::string s = vantage.empty() ? "the topology's vantage" : "vantage " + vantage;
  if (!shard.empty()) s += " shard " + shard;
  return s;
}

// Where a check goes: ("vantage/from_role", to_role), explicit checks under "vantage/explicit".
std::pair<std::string, std::string> place_of(const Json& c, const std::string& vantage) {
  const std::string from = text_of(c, "from_role");
  const std::string v = vantage.empty() ? "-" : vantage;
  if (!from.empty()) return {v + "/" + from, text_of(c, "to_role")};
  std::string to = text_of(c, "group");
  if (to.empty()) to = text_of(c, "host");
  return {v + "/explicit", to};
}

MatrixProblem problem_of(const Json& c, const std::string& vantage) {
  const auto ids = c.find("catalog_ids");
  std::string flow;
  if (ids != c.end() && ids->is_array()) {
    for (const auto& id : *ids) {
      if (!id.is_string()) continue;
      if (!flow.empty()) flow += ",";
      flow += id.get<std::string>();
    }
  }
  if (flow.empty()) flow = text_of(c, "label");
  return {text_of(c, "host"),     text_of(c, "address"), text_of(c, "protocol"), text_of(c, "port"),
          text_of(c, "expected"), text_of(c, "observed"), text_of(c, "reason"),  text_of(c, "verdict"),
          flow,                   vantage};
}

}  // namespace

MatrixResult build_matrix(std::span<const MatrixInput> inputs) {
  MatrixResult r;
  auto& m = r.matrix;
  std::string topology_file;  // the first file that named the topology
  std::map<std::string, std::string> seen;  // vantage \t shard -> file
  std::set<std::string> rows, columns;
  for (const auto& in : inputs) {
    const Json doc = Json::parse(in.text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("status") || !doc.contains("checks") ||
        !doc["checks"].is_array()) {
      r.error = fmt::format("{}: not a `portdrift --check --format json` result", in.file);
      return r;
    }
    ++m.results;
    const auto code_it = doc.find("exit_code");
    const int code = code_it != doc.end() && code_it->is_number_integer() ? code_it->get<int>() : 3;
    m.exit_code = std::max(m.exit_code, std::clamp(code, 0, 3));
    if (doc.contains("message")) {  // json_unknown: the run could not start
      m.unknown.push_back(fmt::format("{}: {}", in.file, text_of(doc, "message")));
      continue;
    }
    const auto topo = doc.find("topology");
    if (topo == doc.end() || !topo->is_object() || text_of(*topo, "hash").empty()) {
      r.error = fmt::format("{}: names no topology (a result of portdrift before 'matrix'? run --check again)",
                            in.file);
      return r;
    }
    const std::string id = fmt::format("{} ({})", text_of(*topo, "file"), text_of(*topo, "hash"));
    if (topology_file.empty()) {
      topology_file = in.file;
      m.topology = id;
    } else if (id != m.topology) {
      r.error = fmt::format("{} and {} are results of different topologies: {} vs {}", topology_file, in.file,
                            m.topology, id);
      return r;
    }
    const std::string vantage = text_of(doc, "vantage"), shard = text_of(doc, "shard");
    const auto [prev, fresh] = seen.emplace(vantage + "\t" + shard, in.file);
    if (!fresh) {
      r.error = fmt::format("{} and {} are both results of {}", prev->second, in.file, instance_name(vantage, shard));
      return r;
    }
    for (const auto& c : doc["checks"]) {
      if (!c.is_object()) continue;
      const auto place = place_of(c, vantage);
      rows.insert(place.first);
      columns.insert(place.second);
      auto& cell = m.cells[place];
      const std::string verdict = text_of(c, "verdict");
      ++cell.checks;
      ++m.checks;
      if (verdict == "ok") {
        ++cell.ok;
        ++m.ok;
        continue;
      }
      if (verdict == "drift") {
        ++cell.drifted;
        ++m.drifted;
      }
      cell.problems.push_back(problem_of(c, vantage.empty() ? "-" : vantage));
    }
  }
  for (auto& [place, cell] : m.cells) {
    std::stable_partition(cell.problems.begin(), cell.problems.end(),
                          [](const MatrixProblem& p) { return p.verdict == "drift"; });
  }
  m.rows.assign(rows.begin(), rows.end());
  m.columns.assign(columns.begin(), columns.end());
  return r;
}

namespace {

std::string status_line(const Matrix& m) {
  const std::size_t other = m.checks - m.ok - m.drifted;
  std::string line = fmt::format("PORTDRIFT {} - {} result{}: {} checks, {} ok, {} drifted", status_name(m.exit_code),
                                 m.results, m.results == 1 ? "" : "s", m.checks, m.ok, m.drifted);
  if (other > 0) line += fmt::format(", {} other", other);
  if (!m.unknown.empty()) line += fmt::format(", {} could not run", m.unknown.size());
  return line + " | " + perfdata("results", std::to_string(m.results)) + " " +
         perfdata("checks", std::to_string(m.checks)) + " " + perfdata("ok", std::to_string(m.ok)) + " " +
         perfdata("drift", std::to_string(m.drifted), "", "", "1");
}

std::string port_of(const MatrixProblem& p) { return p.port.empty() ? p.protocol : p.protocol + "/" + p.port; }

}  // namespace

std::string matrix_text(const Matrix& m) {
  std::string out = status_line(m) + "\n";
  if (!m.rows.empty()) {
    constexpr std::string_view corner = "from \\ to";
    std::size_t first = corner.size();
    for (const auto& row : m.rows) first = std::max(first, row.size());
    std::vector<std::size_t> widths;
    for (const auto& col : m.columns) widths.push_back(std::max<std::size_t>(col.size(), 5));
    out += fmt::format("{:<{}}", corner, first);
    for (std::size_t i = 0; i < m.columns.size(); ++i) out += fmt::format("  {:>{}}", m.columns[i], widths[i]);
    out += "\n";
    for (const auto& row : m.rows) {
      out += fmt::format("{:<{}}", row, first);
      for (std::size_t i = 0; i < m.columns.size(); ++i) {
        const auto it = m.cells.find({row, m.columns[i]});
        const std::string cell =
            it == m.cells.end() ? "-" : fmt::format("{}/{}", it->second.ok, it->second.drifted);
        out += fmt::format("  {:>{}}", cell, widths[i]);
      }
      out += "\n";
    }
    out += "(cells: ok/drifted; - no checks)\n";
  }
  for (const auto& [place, cell] : m.cells) {
    for (const auto& p : cell.problems) {
      out += fmt::format("{}: {} {} -> {} {} ({}) expected {}, observed {} ({}) [{}]\n", p.verdict, place.first,
                         p.host, p.address, port_of(p), place.second, p.expected, p.observed, p.reason, p.flow);
    }
  }
  for (const auto& u : m.unknown) out += "UNKNOWN: " + u + "\n";
  return out;
}

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

namespace {

constexpr std::string_view kHead = R"(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>portdrift flow matrix</title>
<style>
body{font:14px/1.4 sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}
.status{font-family:monospace;padding:.4em .6em;border-radius:4px;display:inline-block}
.status.s0{background:#d4edda}.status.s1{background:#fff3cd}.status.s2{background:#f8d7da}.status.s3{background:#e2e3e5}
table.matrix{border-collapse:collapse;margin-top:1em}
table.matrix th,table.matrix td{border:1px solid #999;padding:.3em .5em;vertical-align:top}
table.matrix thead th{background:#f0f0f0}
table.matrix th[scope=row]{text-align:left;background:#f0f0f0;white-space:nowrap}
td.ok{background:#b7e1c1}td.drift{background:#f3a6ad;cursor:pointer}td.other{background:#ffe08a;cursor:pointer}td.none{background:#d6d6d6;color:#777}
td .count{font-family:monospace;font-weight:bold}
table.problems{border-collapse:collapse;margin-top:.3em;font-size:12px;background:#fff}
table.problems td,table.problems th{border:1px solid #ccc;padding:.1em .3em;white-space:nowrap}
.legend span{display:inline-block;padding:0 .5em;margin-right:.5em;border:1px solid #999}
</style></head>
<body>
<h1>portdrift flow matrix</h1>
)";

// Clicking a cell opens its <details>; #expand opens all of them (for screenshots).
constexpr std::string_view kScript = R"(<script>
(function(){
  var cells=document.querySelectorAll('td[data-from]');
  var drifting=0;
  cells.forEach(function(td){
    var d=td.querySelector('details');
    if(+td.dataset.drifted>0)drifting++;
    if(!d)return;
    td.addEventListener('click',function(e){if(e.target.closest('summary'))return;d.open=!d.open;});
    if(location.hash==='#expand')d.open=true;
  });
  var s=document.getElementById('js-summary');
  s.textContent=cells.length+' cells, '+drifting+' with drift';
  document.body.setAttribute('data-ready','1');
})();
</script>
)";

void problems_table(std::string& out, const MatrixCell& cell) {
  out += "<details><summary>checks</summary><table class=\"problems\"><tr><th>host</th><th>address</th>"
         "<th>port</th><th>expected</th><th>observed</th><th>reason</th><th>verdict</th><th>flow</th></tr>";
  for (const auto& p : cell.problems) {
    out += fmt::format(
        "<tr class=\"problem\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td></tr>",
        html_escape(p.host), html_escape(p.address), html_escape(port_of(p)), html_escape(p.expected),
        html_escape(p.observed), html_escape(p.reason), html_escape(p.verdict), html_escape(p.flow));
  }
  out += "</table></details>";
}

}  // namespace

std::string matrix_html(const Matrix& m) {
  std::string out{kHead};
  out += fmt::format("<p class=\"status s{}\" id=\"status\">{}</p>\n", m.exit_code, html_escape(status_line(m)));
  out += fmt::format("<p>Topology: <code id=\"topology\">{}</code>. <span id=\"js-summary\"></span></p>\n",
                     html_escape(m.topology.empty() ? "-" : m.topology));
  out += "<p class=\"legend\"><span style=\"background:#b7e1c1\">all ok</span>"
         "<span style=\"background:#f3a6ad\">drift</span><span style=\"background:#ffe08a\">other problems</span>"
         "<span style=\"background:#d6d6d6\">no checks</span> cells: ok/drifted; click a cell for its checks</p>\n";
  out += "<table class=\"matrix\" id=\"matrix\"><thead><tr><th>from \\ to</th>";
  for (const auto& col : m.columns) out += "<th scope=\"col\">" + html_escape(col) + "</th>";
  out += "</tr></thead><tbody>\n";
  for (std::size_t r = 0; r < m.rows.size(); ++r) {
    out += "<tr><th scope=\"row\">" + html_escape(m.rows[r]) + "</th>";
    for (std::size_t c = 0; c < m.columns.size(); ++c) {
      const auto it = m.cells.find({m.rows[r], m.columns[c]});
      const MatrixCell empty;
      const MatrixCell& cell = it == m.cells.end() ? empty : it->second;
      const char* cls = cell.checks == 0 ? "none" : cell.drifted > 0 ? "drift" : cell.ok == cell.checks ? "ok" : "other";
      out += fmt::format(
          "<td id=\"cell-{}-{}\" class=\"{}\" data-from=\"{}\" data-to=\"{}\" data-checks=\"{}\" data-ok=\"{}\" "
          "data-drifted=\"{}\"><span class=\"count\">{}</span>",
          r, c, cls, html_escape(m.rows[r]), html_escape(m.columns[c]), cell.checks, cell.ok, cell.drifted,
          cell.checks == 0 ? std::string("-") : fmt::format("{}/{}", cell.ok, cell.drifted));
      if (!cell.problems.empty()) problems_table(out, cell);
      out += "</td>";
    }
    out += "</tr>\n";
  }
  out += "</tbody></table>\n";
  if (!m.unknown.empty()) {
    out += "<h2>Results that could not run</h2><ul id=\"unknown\">";
    for (const auto& u : m.unknown) out += "<li>" + html_escape(u) + "</li>";
    out += "</ul>\n";
  }
  out += kScript;
  out += "</body></html>\n";
  return out;
}

}  // namespace portdrift::report
