# Tidies scdoc's roff for mandoc -Tlint: scdoc 1.11 opens every section with
# a redundant .P and ends each indented block with an empty paragraph
# (".P" then ".RE"). The first is dropped; the second moves after the ".RE",
# where it still makes the blank line before the next item. Nothing else
# changes, and groff renders the same page, except that hyphenation is off
# (.nh): key paths such as defaults.max_rate must not break at a hyphen.
{
  if ($0 ~ /^\.TH /) { print; print ".nh"; next }
  if ($0 == ".P") { if (!after_heading) held = 1; next }
  if ($0 == ".RE") { print; after_heading = 0; next }
  if (held) { if ($0 !~ /^\.S[HS]( |$)/) print ".P"; held = 0 }
  after_heading = ($0 ~ /^\.S[HS]( |$)/)
  print
}
