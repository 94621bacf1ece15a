// No drift between the program and its man pages: every flag the CLI11 parser
// accepts is documented in the generated portdrift(1), under its command, and
// every flag documented there is accepted; every key the topology reader
// accepts is documented in portdrift-topology(5), in the section of its
// mapping, and every key documented there is accepted.
//
// "Documented" means a term of a definition list: a line of the generated roff
// that opens an indented block (.RS), whose bold words are what it defines.
// Section headings (.SS) give the scope: a command under COMMANDS, a mapping
// under KEYS.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "portdrift/cli/cli.hpp"
#include "portdrift/config/keys.hpp"

namespace portdrift {
namespace {

struct Term {
  std::string section;     // the .SH heading
  std::string subsection;  // the .SS heading ("" before the first one of a section)
  std::vector<std::string> words;  // the bold words of the term line
};

std::vector<Term> terms(const std::string& page) {
  std::ifstream in(std::string(PORTDRIFT_MAN_DIR) + "/" + page);
  EXPECT_TRUE(in) << "no generated page " << PORTDRIFT_MAN_DIR << "/" << page;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    // scdoc writes "\&" after periods; "\-" would be a hyphen too.
    line = std::regex_replace(line, std::regex(R"(\\&)"), "");
    line = std::regex_replace(line, std::regex(R"(\\-)"), "-");
    lines.push_back(line);
  }
  std::vector<Term> out;
  std::string section, subsection;
  const std::regex bold(R"(\\fB([^\\]+)\\fR)");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    if (l.starts_with(".SH ")) {
      section = l.substr(4);
      subsection.clear();
    } else if (l.starts_with(".SS ")) {
      subsection = l.substr(4);
    } else if (!l.starts_with(".") && i + 1 < lines.size() && lines[i + 1].starts_with(".RS")) {
      Term t{section, subsection, {}};
      for (std::sregex_iterator it(l.begin(), l.end(), bold), end; it != end; ++it) t.words.push_back((*it)[1]);
      out.push_back(std::move(t));
    }
  }
  return out;
}

template <class Set>
std::string list(const Set& s) {
  std::string out;
  for (const auto& x : s) out += "\n  " + x;
  return out;
}

TEST(ManPages, Portdrift1DocumentsExactlyTheFlagsTheParserAccepts) {
  const auto names = cli::option_names();
  const std::set<std::string> accepted(names.begin(), names.end());
  ASSERT_GT(accepted.size(), 30U);  // the parser's list is not empty by accident
  std::set<std::string> documented;
  for (const auto& t : terms("portdrift.1")) {
    const std::string scope = t.section == "COMMANDS" ? t.subsection + " " : "";
    for (const auto& w : t.words) {
      if (w.starts_with("-")) documented.insert(scope + w);
    }
  }
  std::set<std::string> undocumented, unknown;
  for (const auto& f : accepted) {
    if (!documented.contains(f)) undocumented.insert(f);
  }
  for (const auto& f : documented) {
    if (!accepted.contains(f)) unknown.insert(f);
  }
  EXPECT_TRUE(undocumented.empty()) << "accepted by the CLI, not in portdrift(1):" << list(undocumented);
  EXPECT_TRUE(unknown.empty()) << "in portdrift(1), not accepted by the CLI:" << list(unknown);
}

TEST(ManPages, PortdriftTopology5DocumentsExactlyTheKeysTheReaderAccepts) {
  std::map<std::string, std::set<std::string>> documented;
  for (const auto& t : terms("portdrift-topology.5")) {
    if (t.section != "KEYS") continue;
    for (const auto& w : t.words) documented[t.subsection].insert(w);
  }
  std::set<std::string> sections_read;
  for (const auto& s : config::keys::sections) {
    const std::string name(s.name);
    sections_read.insert(name);
    const std::set<std::string> accepted(s.keys.begin(), s.keys.end());
    const auto& doc = documented[name];
    std::set<std::string> undocumented, unknown;
    for (const auto& k : accepted) {
      if (!doc.contains(k)) undocumented.insert(k);
    }
    for (const auto& k : doc) {
      if (!accepted.contains(k)) unknown.insert(k);
    }
    EXPECT_TRUE(undocumented.empty()) << name << ": read, not in portdrift-topology(5):" << list(undocumented);
    EXPECT_TRUE(unknown.empty()) << name << ": in portdrift-topology(5), not read:" << list(unknown);
  }
  for (const auto& [name, keys] : documented) {
    EXPECT_TRUE(sections_read.contains(name)) << "portdrift-topology(5) documents keys of '" << name
                                              << "', which the reader has no mapping of:" << list(keys);
  }
}

}  // namespace
}  // namespace portdrift
