// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/server_settings.hpp"

#include <fmt/format.h>

namespace c10k {

namespace {

// One row a server, by process name; `{0}` is the value wanted, `{1}` the
// process name. Empty: the server has no setting of its own for that limit.
struct ServerSettings {
    std::string_view comm;
    bool prefix;  // comm only starts with this (python3, python3.11)
    const char* nofile;
    const char* backlog;
    const char* upstream_reuse;
    const char* max_clients;  // the connections it serves at once before it refuses more
    // A server that lowers its cap at start to fit the fd limit it finds,
    // keeping this many fds for itself; 0: its cap is its own.
    uint32_t cap_fd_reserve = 0;
};

constexpr ServerSettings kServers[] = {
    // nginx's workers set their own fd limit at start from worker_rlimit_nofile:
    // a prlimit on a worker is lost at the next reload, which starts new ones.
    // It keeps at most `keepalive` idle connections per upstream block per
    // worker and closes the rest, each close leaving a local port in TIME_WAIT.
    {"nginx", false, "nginx: worker_rlimit_nofile {0}; in nginx.conf, then nginx -s reload",
     "nginx: listen PORT backlog={0}; (default 511), then nginx -s reload",
     "nginx: keepalive N in the upstream block, N about the requests in flight to it, with "
     "proxy_http_version 1.1 and proxy_set_header Connection \"\" (idle connections beyond N "
     "are closed, each leaving a port in TIME_WAIT)",
     "nginx: worker_connections {0}; in the events block (and worker_rlimit_nofile to match), "
     "then nginx -s reload"},
    // HAProxy raises its own fd limit to what maxconn needs (unless ulimit-n or
    // fd-hard-limit caps it), so a low one is a capped or unprivileged start.
    {"haproxy", false,
     "haproxy: drop a low ulimit-n / fd-hard-limit in the global section (it sizes the limit "
     "from maxconn), or start it with {0} fds",
     "haproxy: backlog {0} in the frontend (it defaults to maxconn)",
     "haproxy: http-reuse safe (or always) on the backend, and no option httpclose / "
     "http-server-close",
     "haproxy: maxconn {0} in the global and frontend sections"},
    // Redis shrinks maxclients to fit the fd limit it finds at start, less the
    // 32 fds it keeps for itself (CONFIG_MIN_RESERVED_FDS), and logs it.
    {"redis-server", false,
     "redis: LimitNOFILE={0} in its unit, then restart (it lowers maxclients to fit a small "
     "limit at start)",
     "redis: tcp-backlog {0} in redis.conf (default 511), then restart", "",
     "redis: maxclients {0} in redis.conf, or CONFIG SET maxclients {0} (default 10000, "
     "lowered at start to fit the fd limit)",
     32},
    {"mysqld", false,
     "{1}: open_files_limit = {0} under [mysqld], and LimitNOFILE in its unit, then restart", "",
     "",
     "{1}: max_connections = {0} under [mysqld], or SET GLOBAL max_connections = {0} "
     "(default 151)"},
    {"mariadbd", false,
     "{1}: open_files_limit = {0} under [mysqld], and LimitNOFILE in its unit, then restart", "",
     "",
     "{1}: max_connections = {0} under [mysqld], or SET GLOBAL max_connections = {0} "
     "(default 151)"},
    // Python's socketserver (http.server, wsgiref) asks for 5 unless the class
    // says otherwise; its WSGI servers have options of their own.
    {"python", true, "",
     "Python: request_queue_size = {0} on a socketserver/http.server class (default 5); "
     "gunicorn --backlog {0}, uvicorn --backlog {0}",
     "", ""},
    {"gunicorn", false, "", "gunicorn: --backlog {0} (default 2048)", "",
     "gunicorn: --workers/--threads (--worker-connections {0} for async workers)"},
    {"node", false, "", "node: server.listen({{ port, backlog: {0} }}) (default 511)", "",
     "node: server.maxConnections = {0} (unset by default)"},
    {"java", false, "",
     "Java: Tomcat acceptCount=\"{0}\" (default 100), Jetty acceptQueueSize, Netty SO_BACKLOG", "",
     "Java: Tomcat maxConnections=\"{0}\" and maxThreads, Jetty's thread pool maxThreads"},
    // Their caps only: a backend process per connection (PostgreSQL), or a
    // thread pool over an event loop (memcached) that refuses past -c.
    {"postgres", false, "", "", "",
     "postgres: max_connections = {0} in postgresql.conf, then restart (default 100; each is "
     "a backend process, so mind its memory)"},
    {"memcached", false, "", "", "",
     "memcached: -c {0} on its command line, /etc/memcached.conf (default 1024)"},
};

const ServerSettings* row_of(std::string_view comm) {
    for (const auto& row : kServers)
        if (row.prefix ? comm.rfind(row.comm, 0) == 0 : comm == row.comm) return &row;
    return nullptr;
}

std::optional<std::string> setting(std::string_view comm, const char* ServerSettings::*which,
                                   uint64_t want) {
    const auto* row = row_of(comm);
    if (!row) return std::nullopt;
    std::string_view text = row->*which;
    if (text.empty()) return std::nullopt;
    return fmt::format(fmt::runtime(text), want, comm);
}

}  // namespace

std::optional<std::string> nofile_setting(std::string_view comm, uint64_t want) {
    return setting(comm, &ServerSettings::nofile, want);
}

std::optional<std::string> backlog_setting(std::string_view comm, uint64_t want) {
    return setting(comm, &ServerSettings::backlog, want);
}

std::optional<std::string> upstream_reuse_setting(std::string_view comm) {
    return setting(comm, &ServerSettings::upstream_reuse, 0);
}

std::optional<std::string> max_clients_setting(std::string_view comm, uint64_t want) {
    return setting(comm, &ServerSettings::max_clients, want);
}

std::optional<uint32_t> cap_fd_reserve(std::string_view comm) {
    const auto* row = row_of(comm);
    if (!row || row->cap_fd_reserve == 0) return std::nullopt;
    return row->cap_fd_reserve;
}

}  // namespace c10k
