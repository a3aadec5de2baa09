// The conformance executable of the faulty variants: the whole suite, with
// every variant in its catalog (choose one with --ipcc-adapter=faulty.NAME).
#include "ipcc/conformance/runner.h"
#include "ipcc/faulty/faulty.h"

int main(int argc, char** argv) {
  std::vector<ipcc::conformance::AdapterEntry> catalog;
  for (const auto& variant : ipcc::faulty::variants()) catalog.push_back({variant.name, variant.factory});
  return ipcc::conformance::run_main(argc, argv, catalog);
}
