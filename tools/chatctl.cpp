// chatctl: the operator CLI entry point.
#include "operator_cli.h"

#include <iostream>

int main(int argc, char** argv) {
    return chat::tools::run_operator_cli(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
