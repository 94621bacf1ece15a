#pragma once
// The command line: parses flags (with CLI11) and runs one mode (--check,
// --validate, --catalog, --help, --version) or a subcommand with flags of its
// own (`policy`, `explain`, `matrix`: src/cli/*_cmd.cpp). Output goes to the given streams and the
// return value is the process exit code (Nagios: 0 OK, 1 WARNING,
// 2 CRITICAL, 3 UNKNOWN). Exceptions stop here.

#include <filesystem>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace portdrift::cli {

int run(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

// Every flag the parser accepts, taken from the parser itself: "--check", "-c", and a
// subcommand's as "policy --out". The docs test compares them with portdrift(1).
std::vector<std::string> option_names();

// Where the built-in catalog lives when --catalog-dir is not given: next to
// an installed binary (../share/portdrift/catalog), else the source tree the
// binary was built from, else the configured install prefix.
std::filesystem::path default_catalog_dir();

}  // namespace portdrift::cli
