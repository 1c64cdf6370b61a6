// chat-test-pg start|stop DIR: the PostgreSQL cluster a CTest run shares (fixture set-up and clean-up).
#include "pg_cluster.h"

#include <exception>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: chat-test-pg start|stop DIR\n";
        return 2;
    }
    std::string command = argv[1];
    try {
        if (command == "start") {
            chat::testing::PgCluster::stop(argv[2]);  // one a killed run left behind
            std::filesystem::remove_all(argv[2]);
            std::cout << "PostgreSQL test cluster on port " << chat::testing::PgCluster::start(argv[2]) << "\n";
            return 0;
        }
        if (command == "stop") {
            chat::testing::PgCluster::stop(argv[2]);
            std::filesystem::remove_all(argv[2]);
            return 0;
        }
    } catch (const std::exception& e) {
        std::cerr << "chat-test-pg: " << e.what() << "\n";
        return 1;
    }
    std::cerr << "chat-test-pg: unknown command " << command << "\n";
    return 2;
}
