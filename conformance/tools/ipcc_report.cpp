// ipcc_report: turns conformance results into the clause x adapter matrix,
// and checks that the spec, the tests and the faulty variants trace to each
// other.
//
//   ipcc_report matrix --spec DIR --results DIR [--out DIR] [--proof DIR]
//       Reads every clause of DIR/*.md and every DIR/<adapter>.tsv written by
//       conformance runs (--ipcc-results), prints the matrix as Markdown and
//       writes OUT/conformance-matrix.{md,json}. With --proof, also the table
//       of which faulty variant made each clause's tests fail.
//       Exit status: 0, or 1 when any result was unexpected (not accepted by
//       its adapter's manifest), 2 for bad input.
//
//   ipcc_report trace --spec DIR --tests FILE --sources DIR
//                     --faulty-manifests DIR --faulty-adapters FILE
//       FILE for --tests is the output of `<conformance exe> --ipcc-list-tests`
//       and for --faulty-adapters that of `--ipcc-list-adapters`. Checks:
//       clause IDs follow the grammar and are unique; every clause is cited by
//       a test and appears verbatim in the test sources; every cited clause
//       exists; every clause is targeted by at least one faulty manifest with
//       a failing verdict; every manifest key names a clause, a test or `*`;
//       every faulty variant has a manifest and every manifest a variant.
//       Exit status: 0 when all hold, 1 listing each problem, 2 for bad input.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct BadInput : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Clause {
  std::string id;
  std::string level;
  std::string file;
  int line = 0;
};

const std::regex kClauseHeading(R"(^### `([^`]+)`\s*$)");
const std::regex kClauseGrammar(R"(^[a-z][a-z0-9-]*(\.[a-z0-9-]+){2,}$)");
const std::regex kLevel(R"(\*\*Level:\*\*\s*(MUST|SHOULD|MAY))");

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw BadInput("cannot read " + path.string());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<fs::path> files_in(const fs::path& dir, const std::string& extension) {
  if (!fs::is_directory(dir)) throw BadInput("not a directory: " + dir.string());
  std::vector<fs::path> found;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == extension) found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

// Clauses are the `### \`id\`` headings of spec/*.md (README.md describes the
// format and holds examples, so it is not read).
std::vector<Clause> read_clauses(const fs::path& spec_dir) {
  std::vector<Clause> clauses;
  for (const auto& file : files_in(spec_dir, ".md")) {
    if (file.filename() == "README.md") continue;
    auto lines = read_lines(file);
    for (std::size_t i = 0; i < lines.size(); ++i) {
      std::smatch match;
      if (!std::regex_match(lines[i], match, kClauseHeading)) continue;
      Clause clause{match[1], "", file.filename().string(), static_cast<int>(i + 1)};
      for (std::size_t j = i + 1; j < lines.size() && j < i + 4; ++j) {
        std::smatch level;
        if (std::regex_search(lines[j], level, kLevel)) clause.level = level[1];
      }
      clauses.push_back(clause);
    }
  }
  if (clauses.empty()) throw BadInput("no clause headings (### `id`) found in " + spec_dir.string());
  return clauses;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  if (!text.empty() && text.back() == separator) parts.emplace_back();
  return parts;
}

struct ResultLine {
  std::string adapter, test, verdict, expected, status, reason;
  std::vector<std::string> clauses;
};

std::vector<ResultLine> read_results(const fs::path& dir) {
  std::vector<ResultLine> results;
  for (const auto& file : files_in(dir, ".tsv")) {
    auto lines = read_lines(file);
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].empty()) continue;
      auto fields = split(lines[i], '\t');
      if (fields.size() != 7) {
        throw BadInput(file.string() + ":" + std::to_string(i + 1) + ": expected 7 tab-separated fields, got " +
                       std::to_string(fields.size()));
      }
      ResultLine r{fields[0], fields[1], fields[3], fields[4], fields[5], fields[6], split(fields[2], ',')};
      results.push_back(std::move(r));
    }
  }
  return results;
}

// How bad a verdict is, for folding several tests of one clause into a cell.
int severity(const std::string& verdict) {
  static const std::map<std::string, int> order = {{"UNSUPPORTED", 0}, {"PASS", 1}, {"FAIL", 2},
                                                   {"TIMEOUT", 3}, {"CRASH", 4}, {"BROKEN", 5}};
  auto it = order.find(verdict);
  if (it == order.end()) throw BadInput("unknown verdict '" + verdict + "' in results");
  return it->second;
}

struct Cell {
  std::string verdict;  // worst observed
  bool accepted = true; // every result accepted by the manifest
  int tests = 0;
  std::string reason;
};

std::string cell_text(const Cell& cell) {
  if (cell.tests == 0) return "not run";
  if (cell.verdict == "PASS" || cell.verdict == "UNSUPPORTED") {
    return cell.accepted ? cell.verdict : cell.verdict + " (unexpected)";
  }
  return cell.accepted ? "XFAIL " + cell.verdict : cell.verdict;
}

std::string json_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
      continue;
    }
    out += c;
  }
  return out;
}

int matrix(const std::map<std::string, std::string>& options) {
  const auto clauses = read_clauses(options.at("--spec"));
  const auto results = read_results(options.at("--results"));
  if (results.empty()) {
    throw BadInput("no results in " + options.at("--results") +
                   ": no conformance test ran (or none was given --ipcc-results)");
  }
  std::set<std::string> adapter_set;
  std::map<std::pair<std::string, std::string>, Cell> cells;  // (clause, adapter)
  int unexpected = 0;
  for (const auto& r : results) {
    adapter_set.insert(r.adapter);
    if (r.status != "ok") ++unexpected;
    for (const auto& clause : r.clauses) {
      Cell& cell = cells[{clause, r.adapter}];
      if (cell.tests == 0 || severity(r.verdict) > severity(cell.verdict)) cell.verdict = r.verdict;
      cell.accepted = cell.accepted && r.status == "ok";
      if (!r.reason.empty()) cell.reason = r.reason;
      ++cell.tests;
    }
  }
  std::vector<std::string> adapters(adapter_set.begin(), adapter_set.end());
  std::ostringstream md;
  md << "| clause | level |";
  for (const auto& a : adapters) md << " " << a << " |";
  md << "\n|---|---|";
  for (std::size_t i = 0; i < adapters.size(); ++i) md << "---|";
  md << "\n";
  std::map<std::string, std::map<std::string, int>> totals;  // adapter -> text -> count
  for (const auto& clause : clauses) {
    md << "| `" << clause.id << "` | " << clause.level << " |";
    for (const auto& a : adapters) {
      auto it = cells.find({clause.id, a});
      Cell cell = it == cells.end() ? Cell{} : it->second;
      auto text = cell_text(cell);
      ++totals[a][text];
      md << " " << text << " |";
    }
    md << "\n";
  }
  md << "\n";
  for (const auto& a : adapters) {
    md << "- **" << a << "**:";
    for (const auto& [text, count] : totals[a]) md << " " << count << " " << text << ";";
    md << " " << clauses.size() << " clauses\n";
  }
  if (unexpected > 0) md << "\n**" << unexpected << " unexpected result(s)**: see the test output.\n";

  std::ostringstream json;
  json << "{\n  \"adapters\": [";
  for (std::size_t i = 0; i < adapters.size(); ++i) json << (i ? ", " : "") << "\"" << json_escape(adapters[i]) << "\"";
  json << "],\n  \"clauses\": [\n";
  for (std::size_t c = 0; c < clauses.size(); ++c) {
    json << "    {\"id\": \"" << clauses[c].id << "\", \"level\": \"" << clauses[c].level << "\", \"results\": {";
    for (std::size_t i = 0; i < adapters.size(); ++i) {
      auto it = cells.find({clauses[c].id, adapters[i]});
      Cell cell = it == cells.end() ? Cell{} : it->second;
      json << (i ? ", " : "") << "\"" << json_escape(adapters[i]) << "\": {\"cell\": \"" << cell_text(cell)
           << "\", \"verdict\": \"" << (cell.tests ? cell.verdict : "") << "\", \"expected\": "
           << (cell.accepted ? "true" : "false") << ", \"tests\": " << cell.tests << ", \"reason\": \""
           << json_escape(cell.reason) << "\"}";
    }
    json << "}}" << (c + 1 < clauses.size() ? "," : "") << "\n";
  }
  json << "  ],\n  \"unexpected\": " << unexpected << "\n}\n";

  std::cout << md.str();
  if (auto it = options.find("--proof"); it != options.end()) {
    auto proof = read_results(it->second);
    std::map<std::string, std::set<std::string>> caught;
    for (const auto& r : proof) {
      if (r.verdict == "PASS" || r.verdict == "UNSUPPORTED" || r.status != "ok") continue;
      for (const auto& clause : r.clauses) caught[clause].insert(r.adapter + " (" + r.verdict + ")");
    }
    std::ostringstream table;
    table << "\n| clause | failed by faulty variant(s) |\n|---|---|\n";
    int uncaught = 0;
    for (const auto& clause : clauses) {
      table << "| `" << clause.id << "` | ";
      if (caught[clause.id].empty()) {
        table << "**none**";
        ++uncaught;
      }
      bool first = true;
      for (const auto& v : caught[clause.id]) {
        table << (first ? "" : ", ") << v;
        first = false;
      }
      table << " |\n";
    }
    table << "\n" << clauses.size() - uncaught << " of " << clauses.size()
          << " clauses shown able to fail by a faulty variant in this run.\n";
    std::cout << table.str();
    md << "\n## Proof that each clause's tests can fail\n" << table.str();
  }
  if (auto it = options.find("--out"); it != options.end()) {
    fs::create_directories(it->second);
    std::ofstream(fs::path(it->second) / "conformance-matrix.md") << "# Conformance matrix\n\n" << md.str();
    std::ofstream(fs::path(it->second) / "conformance-matrix.json") << json.str();
    std::cout << "\nwritten: " << (fs::path(it->second) / "conformance-matrix.md").string() << ", "
              << (fs::path(it->second) / "conformance-matrix.json").string() << "\n";
  }
  return unexpected == 0 ? 0 : 1;
}

int trace(const std::map<std::string, std::string>& options) {
  const auto clauses = read_clauses(options.at("--spec"));
  std::vector<std::string> problems;
  std::set<std::string> ids;
  for (const auto& c : clauses) {
    if (!std::regex_match(c.id, kClauseGrammar)) problems.push_back(c.file + ":" + std::to_string(c.line) + ": clause ID '" + c.id + "' does not follow the grammar");
    if (!ids.insert(c.id).second) problems.push_back(c.file + ":" + std::to_string(c.line) + ": clause ID '" + c.id + "' is defined twice");
    if (c.level.empty()) problems.push_back(c.file + ":" + std::to_string(c.line) + ": clause '" + c.id + "' has no **Level:** line");
  }
  // Tests and the clauses they cite, as the conformance executable registers them.
  std::map<std::string, std::vector<std::string>> tests;
  std::set<std::string> cited;
  for (const auto& line : read_lines(options.at("--tests"))) {
    if (line.empty()) continue;
    auto fields = split(line, '\t');
    if (fields.size() != 2) throw BadInput(options.at("--tests") + ": expected 'test<TAB>clauses', got '" + line + "'");
    tests[fields[0]] = split(fields[1], ',');
    if (fields[1].empty()) problems.push_back("test " + fields[0] + " cites no clause");
    for (const auto& c : tests[fields[0]]) {
      cited.insert(c);
      if (!ids.count(c)) problems.push_back("test " + fields[0] + " cites '" + c + "', which is not a clause in spec/");
    }
  }
  std::string sources;
  for (const auto& entry : fs::recursive_directory_iterator(options.at("--sources"))) {
    if (entry.is_regular_file() && entry.path().extension() == ".cpp") {
      std::ifstream in(entry.path());
      sources += std::string(std::istreambuf_iterator<char>(in), {});
    }
  }
  for (const auto& c : clauses) {
    if (!cited.count(c.id)) problems.push_back("clause " + c.id + " (" + c.file + ":" + std::to_string(c.line) + ") is cited by no test");
    if (sources.find("\"" + c.id + "\"") == std::string::npos) problems.push_back("clause " + c.id + " does not appear verbatim in the test sources");
  }
  // Faulty manifests: keys, targets, and the variant catalog.
  std::set<std::string> targeted;
  std::set<std::string> manifests;
  for (const auto& file : files_in(options.at("--faulty-manifests"), ".txt")) {
    manifests.insert("faulty." + file.stem().string());
    auto lines = read_lines(file);
    for (std::size_t i = 0; i < lines.size(); ++i) {
      auto text = lines[i].substr(0, lines[i].find('#'));
      std::istringstream fields(text);
      std::string key, verdicts;
      if (!(fields >> key)) continue;
      fields >> verdicts;
      const std::string where = file.filename().string() + ":" + std::to_string(i + 1);
      if (key != "*" && !ids.count(key) && !tests.count(key)) problems.push_back(where + ": '" + key + "' is neither a clause nor a test");
      if (verdicts != "ANY" && verdicts != "PASS" && key != "*") targeted.insert(key);
    }
  }
  for (const auto& c : clauses) {
    bool hit = targeted.count(c.id) > 0;
    for (const auto& [test, cites] : tests) {
      if (targeted.count(test) && std::find(cites.begin(), cites.end(), c.id) != cites.end()) hit = true;
    }
    if (!hit) problems.push_back("clause " + c.id + " is targeted by no faulty variant: nothing shows its tests can fail");
  }
  std::set<std::string> variants;
  for (const auto& line : read_lines(options.at("--faulty-adapters"))) {
    if (!line.empty()) variants.insert(line);
  }
  for (const auto& v : variants) {
    if (!manifests.count(v)) problems.push_back("faulty variant " + v + " has no manifest");
  }
  for (const auto& m : manifests) {
    if (!variants.count(m)) problems.push_back("manifest for " + m + " names no faulty variant");
  }
  for (const auto& p : problems) std::cout << "trace: " << p << "\n";
  std::cout << "trace: " << clauses.size() << " clauses, " << tests.size() << " tests, " << variants.size()
            << " faulty variants; " << problems.size() << " problem(s)\n";
  return problems.empty() ? 0 : 1;
}

std::map<std::string, std::string> parse(int argc, char** argv, const std::set<std::string>& required,
                                         const std::set<std::string>& optional) {
  std::map<std::string, std::string> options;
  for (int i = 2; i < argc; ++i) {
    std::string key = argv[i];
    if (!required.count(key) && !optional.count(key)) throw BadInput("unknown option '" + key + "'");
    if (i + 1 >= argc) throw BadInput("option " + key + " needs a value");
    options[key] = argv[++i];
  }
  for (const auto& key : required) {
    if (!options.count(key)) throw BadInput("missing " + key);
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string usage =
      "usage: ipcc_report matrix --spec DIR --results DIR [--out DIR] [--proof DIR]\n"
      "       ipcc_report trace --spec DIR --tests FILE --sources DIR --faulty-manifests DIR --faulty-adapters FILE\n";
  try {
    std::string command = argc > 1 ? argv[1] : "";
    if (command == "matrix") return matrix(parse(argc, argv, {"--spec", "--results"}, {"--out", "--proof"}));
    if (command == "trace") {
      return trace(parse(argc, argv, {"--spec", "--tests", "--sources", "--faulty-manifests", "--faulty-adapters"}, {}));
    }
    std::cerr << usage;
    return 2;
  } catch (const BadInput& error) {
    std::cerr << "ipcc_report: " << error.what() << "\n" << usage;
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "ipcc_report: " << error.what() << "\n";
    return 2;
  }
}
