#include "flags.hpp"

#include <charconv>
#include <map>
#include <memory>

namespace portdrift::cli {
namespace {

// CLI11's layout with our synopsis lines in place of "Usage: NAME [OPTIONS]", and the
// description after them rather than before.
class Layout : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string name) const override {
    const auto it = synopsis_.find(app);
    if (it == synopsis_.end()) return CLI::Formatter::make_usage(app, std::move(name));
    auto about = CLI::Formatter::make_description(app);
    if (!about.starts_with('\n')) about.insert(0, "\n");
    return it->second + "\n" + about;
  }
  std::string make_description(const CLI::App* app) const override {
    return synopsis_.contains(app) ? std::string() : CLI::Formatter::make_description(app);
  }
  void set(const CLI::App* app, std::string text) { synopsis_[app] = std::move(text); }

 private:
  std::map<const CLI::App*, std::string> synopsis_;
};

}  // namespace

CLI::Option* add_number(CLI::App& app, const std::string& name, std::optional<std::uint32_t>& target,
                        std::uint32_t min, std::uint32_t max, const std::string& type, const std::string& description) {
  auto* opt = app.add_option_function<std::uint32_t>(
      name, [&target](const std::uint32_t& v) { target = v; }, description);
  opt->type_name(type);
  opt->check(CLI::Validator(
      [min, max](std::string& text) -> std::string {
        std::uint32_t v = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() || v < min || v > max) {
          return "takes a whole number from " + std::to_string(min) + " to " + std::to_string(max) + ", not '" +
                 text + "'";
        }
        return {};
      },
      ""));
  return opt;
}

CLI::Option* add_checked(CLI::App& app, const std::string& name, std::optional<std::string>& target,
                         const std::string& type, std::function<std::string(const std::string&)> check,
                         const std::string& description) {
  auto* opt = app.add_option_function<std::string>(
      name, [&target](const std::string& v) { target = v; }, description);
  opt->type_name(type);
  opt->check(CLI::Validator([check = std::move(check)](std::string& v) { return check(v); }, ""));
  return opt;
}

void set_help_layout(CLI::App& app) {
  auto layout = std::make_shared<Layout>();
  layout->column_width(26);
  app.formatter(layout);
}

void set_synopsis(CLI::App& app, std::string synopsis) {
  if (auto layout = std::dynamic_pointer_cast<Layout>(app.get_formatter())) layout->set(&app, std::move(synopsis));
}

std::optional<std::string> first_extra(const CLI::App& app) {
  const auto extras = app.remaining();
  if (extras.empty()) return std::nullopt;
  return extras.front();
}

void list_flags(const CLI::App& app, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto* opt : app.get_options([](const CLI::Option* o) { return o->nonpositional(); })) {
    for (const auto& s : opt->get_snames()) out.push_back(prefix + "-" + s);
    for (const auto& l : opt->get_lnames()) out.push_back(prefix + "--" + l);
  }
}

}  // namespace portdrift::cli
