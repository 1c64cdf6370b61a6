// chat-client: the terminal client's command line (scriptable subcommands and interactive mode).
#include "client.h"

#include "common/broker_address.h"

#include <fstream>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr const char* usage =
    "usage: chat-client [--state FILE] [--host ADDR] [--http-port N] [--mqtt-port N]\n"
    "                   [--broker [tcp://|ssl://]HOST:PORT] [--ca-file PEM] COMMAND\n"
    "  (--broker: the MQTT broker, ssl:// for its TLS listener, checked against --ca-file or the\n"
    "   system's CAs; default tcp://HOST:MQTT-PORT)\n"
    "  register PHONE [--sms-outbox FILE]   verify a phone (+E.164); the code is read from stdin, or for tests\n"
    "                                       from the development SMS outbox file\n"
    "  send USER TEXT                       encrypt for every device of USER and your other devices\n"
    "  group-create NAME MEMBER...          create a group (prints its id)\n"
    "  group-send GID TEXT                  encrypt for every device of every current member\n"
    "  group-remove GID USER                remove a member (admins) or leave (yourself)\n"
    "  recv [--count N] [--ticks N] [--timeout S]   print N messages and N ticks (exit 1 on timeout)\n"
    "  send-file USER PATH                  encrypt the file, upload it (resumable), send a media message\n"
    "  recv-file --dir DIR [--count N] [--timeout S]   like recv; media files are verified, then written to DIR\n"
    "  verify USER                          print the safety number you and USER compare\n"
    "  call USER [--media voice|video] [--hold S] [--timeout S]   ring USER (placeholder SDP), print ringing,\n"
    "                                       answer and hangup; hang up S after the answer (exit 1 if unanswered)\n"
    "  answer-call [--timeout S]            wait for a call, answer it, print signals until it ends\n"
    "  reject-call [--timeout S]            wait for a call and reject it\n"
    "  interactive                          line mode: /to USER, /group GID, /send-file PATH,\n"
    "                                       /verify USER, /call USER, /answer, /hangup, /quit, or text to send\n";

struct Args {
    std::map<std::string, std::string> flags;
    std::vector<std::string> words;
};

Args parse(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string w = argv[i];
        if (w.rfind("--", 0) == 0) {
            if (i + 1 >= argc) throw std::invalid_argument(w + " needs a value");
            a.flags[w.substr(2)] = argv[++i];
        } else {
            a.words.push_back(w);
        }
    }
    return a;
}

int number(const Args& a, const std::string& flag, int fallback) {
    auto it = a.flags.find(flag);
    return it == a.flags.end() ? fallback : std::stoi(it->second);
}

// The last code the development SMS sender wrote for `phone`, waiting up to 5 s for it.
std::string code_from_outbox(const std::string& file, const std::string& phone) {
    for (int attempt = 0; attempt < 50; ++attempt) {
        std::ifstream in(file);
        std::string p, code, last;
        while (in >> p >> code) {
            if (p == phone) last = code;
        }
        if (!last.empty()) return last;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw std::runtime_error("no code for " + phone + " in " + file);
}

int run(const Args& a) {
    if (a.words.empty()) throw std::invalid_argument("no command");
    chat::client::Options o;
    if (a.flags.count("state")) o.state_file = a.flags.at("state");
    if (a.flags.count("host")) o.host = a.flags.at("host");
    o.http_port = number(a, "http-port", o.http_port);
    o.mqtt_port = number(a, "mqtt-port", o.mqtt_port);
    if (a.flags.count("broker")) {
        auto broker = chat::parse_broker_address("--broker", a.flags.at("broker"));
        o.mqtt_tls = broker.tls;
        o.mqtt_port = broker.port;
        o.mqtt_host = broker.host;
    }
    if (a.flags.count("ca-file")) {
        if (!o.mqtt_tls) throw std::invalid_argument("--ca-file needs an ssl:// --broker");
        o.ca_file = a.flags.at("ca-file");
    }
    const auto& cmd = a.words[0];
    chat::client::Client client(o);
    if (cmd == "register" && a.words.size() == 2) {
        const auto phone = a.words[1];
        client.register_account(phone, [&] {
            if (a.flags.count("sms-outbox")) return code_from_outbox(a.flags.at("sms-outbox"), phone);
            std::cout << "code: " << std::flush;
            std::string code;
            std::getline(std::cin, code);
            return code;
        });
        return 0;
    }
    if (cmd == "send" && a.words.size() >= 3) {
        std::string text = a.words[2];
        for (size_t i = 3; i < a.words.size(); ++i) text += " " + a.words[i];
        client.send(a.words[1], text);
        return 0;
    }
    if (cmd == "group-create" && a.words.size() >= 2) {
        client.create_group(a.words[1], {a.words.begin() + 2, a.words.end()});
        return 0;
    }
    if (cmd == "group-send" && a.words.size() >= 3) {
        std::string text = a.words[2];
        for (size_t i = 3; i < a.words.size(); ++i) text += " " + a.words[i];
        client.send_group(a.words[1], text);
        return 0;
    }
    if (cmd == "group-remove" && a.words.size() == 3) {
        client.remove_member(a.words[1], a.words[2]);
        return 0;
    }
    if (cmd == "recv" && a.words.size() == 1) {
        return client.receive(number(a, "count", 1), number(a, "ticks", 0), std::chrono::seconds(number(a, "timeout", 10)))
                   ? 0
                   : 1;
    }
    if (cmd == "send-file" && a.words.size() == 3) {
        client.send_file(a.words[1], a.words[2]);
        return 0;
    }
    if (cmd == "recv-file" && a.words.size() == 1 && a.flags.count("dir")) {
        client.set_download_dir(a.flags.at("dir"));
        return client.receive(number(a, "count", 1), 0, std::chrono::seconds(number(a, "timeout", 30))) ? 0 : 1;
    }
    if (cmd == "verify" && a.words.size() == 2) {
        std::cout << client.safety_number(a.words[1]) << std::endl;
        return 0;
    }
    if (cmd == "call" && a.words.size() == 2) {
        std::string media = a.flags.count("media") ? a.flags.at("media") : "voice";
        if (media != "voice" && media != "video") throw std::invalid_argument("--media is voice or video");
        return client.place_call(a.words[1], media, std::chrono::seconds(number(a, "hold", 0)),
                                 std::chrono::seconds(number(a, "timeout", 30)))
                   ? 0
                   : 1;
    }
    if ((cmd == "answer-call" || cmd == "reject-call") && a.words.size() == 1) {
        return client.take_call(cmd == "reject-call", std::chrono::seconds(number(a, "timeout", 30))) ? 0 : 1;
    }
    if (cmd == "interactive" && a.words.size() == 1) {
        client.interactive();
        return 0;
    }
    throw std::invalid_argument("unknown command or wrong arguments: " + cmd);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(parse(argc, argv));
    } catch (const std::invalid_argument& e) {
        std::cerr << "chat-client: " << e.what() << "\n" << usage;
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "chat-client: " << e.what() << "\n";
        return 1;
    }
}
