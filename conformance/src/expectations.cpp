#include "ipcc/conformance/expectations.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ipcc::conformance {

Expectations Expectations::parse(std::istream& in, const std::string& source) {
  Expectations manifest;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (auto first = line.find_first_not_of(" \t"); first != std::string::npos && line[first] == '#') continue;
    std::istringstream fields(line);
    Expectation entry;
    std::string verdicts;
    if (!(fields >> entry.key)) continue;  // blank or comment
    auto where = source + ":" + std::to_string(number) + ": ";
    if (!(fields >> verdicts)) {
      throw std::invalid_argument(where + "expected '<key> <VERDICT> <reason>', got only '" + entry.key + "'");
    }
    std::string::size_type start = 0;
    while (start <= verdicts.size()) {
      auto bar = verdicts.find('|', start);
      auto word = verdicts.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
      Verdict verdict;
      if (word == "ANY") {
        entry.verdicts.clear();
        break;
      }
      if (!parse_verdict(word, verdict)) {
        throw std::invalid_argument(where + "unknown verdict '" + word +
                                    "' (use PASS, FAIL, UNSUPPORTED, TIMEOUT, CRASH or ANY)");
      }
      if (verdict == Verdict::broken) {
        throw std::invalid_argument(where + "BROKEN cannot be expected: it is a harness failure, "
                                    "not an adapter's behaviour (spec/README.md, Verdicts)");
      }
      entry.verdicts.push_back(verdict);
      if (bar == std::string::npos) break;
      start = bar + 1;
    }
    std::getline(fields >> std::ws, entry.reason);
    if (entry.reason.empty()) {
      throw std::invalid_argument(where + "entry for '" + entry.key + "' gives no reason");
    }
    entry.line = number;
    for (const auto& existing : manifest.entries_) {
      if (existing.key == entry.key) {
        throw std::invalid_argument(where + "'" + entry.key + "' is already listed on line " +
                                    std::to_string(existing.line));
      }
    }
    manifest.entries_.push_back(std::move(entry));
  }
  return manifest;
}

Expectations Expectations::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot read expectations manifest '" + path + "'");
  return parse(in, path);
}

const Expectation* Expectations::find(const std::string& test,
                                      const std::vector<std::string>& clauses) const {
  const Expectation* by_clause = nullptr;
  const Expectation* fallback = nullptr;
  for (const auto& entry : entries_) {
    if (entry.key == test) return &entry;
    for (const auto& clause : clauses) {
      if (entry.key == clause && !by_clause) by_clause = &entry;
    }
    if (entry.key == "*") fallback = &entry;
  }
  return by_clause ? by_clause : fallback;
}

bool Expectations::accepts(const std::string& test, const std::vector<std::string>& clauses,
                           Verdict observed) const {
  if (observed == Verdict::broken) return false;  // a harness failure is never expected
  const Expectation* entry = find(test, clauses);
  if (!entry) return observed == Verdict::pass || observed == Verdict::unsupported;
  if (entry->verdicts.empty()) return true;
  for (auto verdict : entry->verdicts) {
    if (verdict == observed) return true;
  }
  return false;
}

bool Expectations::targets(const std::string& test, const std::vector<std::string>& clauses) const {
  for (const auto& entry : entries_) {
    if (entry.verdicts.empty()) continue;
    if (entry.key == test) return true;
    for (const auto& clause : clauses) {
      if (entry.key == clause) return true;
    }
  }
  return false;
}

}  // namespace ipcc::conformance
