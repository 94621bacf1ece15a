#pragma once
// Shared pieces of the CLI11 parsers of cli.cpp and the *_cmd.cpp
// subcommands: validators that keep the wording of portdrift's usage errors
// (CLI11 prefixes them with the flag, "--timeout: takes ..."), tables for
// flags that take one of a few words, and the help layout. Only src/cli
// includes this header, so CLI11 stays out of the library's public headers.

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

namespace portdrift::cli {

// A usage error found after CLI11 parsed the words (flags that do not go together);
// cli::run prints it and exits 3.
struct UsageError {
  std::string message;
};

// One word a flag accepts and what it means: `--format` is a table of these,
// so a new output format is one more entry.
template <class T>
struct Choice {
  std::string_view word;
  T value;
};

// "text or json", "deny, accept or none".
template <class T, std::size_t N>
std::string either(const std::array<Choice<T>, N>& choices) {
  std::string s;
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) s += i + 1 == N ? " or " : ", ";
    s += choices[i].word;
  }
  return s;
}

// `name WORD`: one word of `choices`, stored in `target`; any other word is a usage error.
template <class T, std::size_t N>
CLI::Option* add_choice(CLI::App& app, const std::string& name, const std::array<Choice<T>, N>& choices, T& target,
                        const std::string& description) {
  std::string words;
  for (const auto& c : choices) words += std::string(words.empty() ? "" : "|") + std::string(c.word);
  auto* opt = app.add_option_function<std::string>(
      name,
      [&choices, &target](const std::string& word) {
        for (const auto& c : choices) {
          if (c.word == word) target = c.value;
        }
      },
      description);
  opt->type_name(words);
  opt->check(CLI::Validator(
      [&choices](std::string& word) -> std::string {
        for (const auto& c : choices) {
          if (c.word == word) return {};
        }
        return "takes " + either(choices) + ", not '" + word + "'";
      },
      ""));
  return opt;
}

// `name N`: a whole number from min to max.
CLI::Option* add_number(CLI::App& app, const std::string& name, std::optional<std::uint32_t>& target,
                        std::uint32_t min, std::uint32_t max, const std::string& type, const std::string& description);

// `name VALUE` checked by `check`, which returns why the value is wrong or an empty string.
CLI::Option* add_checked(CLI::App& app, const std::string& name, std::optional<std::string>& target,
                         const std::string& type, std::function<std::string(const std::string&)> check,
                         const std::string& description);

// Sets the help layout of an app and the subcommands added to it later: our own synopsis lines
// instead of CLI11's "Usage: portdrift [OPTIONS]", wider columns for the flag names.
void set_help_layout(CLI::App& app);
void set_synopsis(CLI::App& app, std::string synopsis);

// The first word CLI11 set aside for `app` (it allows extras, so that the message is ours):
// an unknown option, or a word where none was expected.
std::optional<std::string> first_extra(const CLI::App& app);

// Every flag of `app` (not positionals), as written on the command line, prefixed with `prefix`.
void list_flags(const CLI::App& app, const std::string& prefix, std::vector<std::string>& out);

}  // namespace portdrift::cli
