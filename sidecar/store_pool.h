// SQLite connections for httplib's worker threads: each request leases a whole Store
// (connection + prepared statements), so a connection is never used by two threads at once.
#pragma once

#include "storage/accounts.h"
#include "storage/broadcast.h"
#include "storage/cluster.h"
#include "storage/contacts.h"
#include "storage/conversations.h"
#include "storage/db.h"
#include "storage/directory.h"
#include "storage/inbox.h"
#include "storage/media.h"
#include "storage/profiles.h"
#include "storage/push_tokens.h"
#include "storage/prekeys.h"
#include "storage/registration.h"
#include "storage/social.h"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace chat::sidecar {

struct Store {
    explicit Store(const std::string& path)
        : db(path), accounts(db), inbox(db), groups(db), blocks(db), registrations(db), directory(db), media(db),
          lists(db), push_tokens(db), conversations(db), profiles(db), contacts(db), prekeys(db), cluster(db) {}
    storage::Database db;
    storage::Accounts accounts;
    storage::Inbox inbox;
    storage::Groups groups;
    storage::Blocks blocks;
    storage::Registrations registrations;
    storage::Directory directory;
    storage::MediaIndex media;
    storage::BroadcastLists lists;
    storage::PushTokens push_tokens;
    storage::Conversations conversations;
    storage::Profiles profiles;
    storage::Contacts contacts;
    storage::Prekeys prekeys;
    storage::Cluster cluster;
};

// Thread-safe pool; grows to the number of threads that use it concurrently.
class StorePool {
public:
    class Lease {
    public:
        Lease(StorePool& pool, std::unique_ptr<Store> store) : pool_(pool), store_(std::move(store)) {}
        ~Lease() { pool_.give_back(std::move(store_)); }
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        Store* operator->() const { return store_.get(); }
        Store& operator*() const { return *store_; }

    private:
        StorePool& pool_;
        std::unique_ptr<Store> store_;
    };

    // Opens one connection at once so migrations run and a bad path fails at startup.
    explicit StorePool(std::string path);
    Lease lease();

private:
    void give_back(std::unique_ptr<Store> store);
    std::string path_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Store>> idle_;
};

}  // namespace chat::sidecar
