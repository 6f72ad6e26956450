// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/server_settings.hpp"

#include <fmt/format.h>

namespace c10k {

std::optional<std::string> nofile_setting(std::string_view comm, uint64_t want) {
    // nginx's workers set their own limit at start from worker_rlimit_nofile;
    // a prlimit on a worker is lost at the next reload, which starts new ones.
    if (comm == "nginx")
        return fmt::format("nginx: worker_rlimit_nofile {}; in nginx.conf, then nginx -s reload",
                           want);
    // HAProxy raises its own limit to what maxconn needs (unless ulimit-n or
    // fd-hard-limit caps it), so a low one is a capped or unprivileged start.
    if (comm == "haproxy")
        return fmt::format("haproxy: drop a low ulimit-n / fd-hard-limit in the global section "
                           "(it sizes the limit from maxconn), or start it with {} fds",
                           want);
    // Redis shrinks maxclients to fit the limit it finds at start, and logs it.
    if (comm == "redis-server")
        return fmt::format("redis: LimitNOFILE={} in its unit, then restart (it lowers "
                           "maxclients to fit a small limit at start)",
                           want);
    if (comm == "mysqld" || comm == "mariadbd")
        return fmt::format("{}: open_files_limit = {} under [mysqld], and LimitNOFILE in its "
                           "unit, then restart",
                           comm, want);
    return std::nullopt;
}

std::optional<std::string> backlog_setting(std::string_view comm, uint64_t want) {
    if (comm == "nginx")
        return fmt::format("nginx: listen PORT backlog={}; (default 511), then nginx -s reload",
                           want);
    if (comm == "haproxy")
        return fmt::format("haproxy: backlog {} in the frontend (it defaults to maxconn)", want);
    if (comm == "redis-server")
        return fmt::format("redis: tcp-backlog {} in redis.conf (default 511), then restart", want);
    // Python's socketserver (http.server, wsgiref) asks for 5 unless the class
    // says otherwise; its WSGI servers have options of their own.
    if (comm.rfind("python", 0) == 0)
        return fmt::format("Python: request_queue_size = {} on a socketserver/http.server class "
                           "(default 5); gunicorn --backlog {}, uvicorn --backlog {}",
                           want, want, want);
    if (comm == "gunicorn")
        return fmt::format("gunicorn: --backlog {} (default 2048)", want);
    if (comm == "node")
        return fmt::format("node: server.listen({{ port, backlog: {} }}) (default 511)", want);
    if (comm == "java")
        return fmt::format("Java: Tomcat acceptCount=\"{}\" (default 100), Jetty "
                           "acceptQueueSize, Netty SO_BACKLOG",
                           want);
    return std::nullopt;
}

std::optional<std::string> upstream_reuse_setting(std::string_view comm) {
    // nginx keeps at most `keepalive` idle connections per upstream block per
    // worker and closes the rest: each close leaves a local port in TIME_WAIT.
    if (comm == "nginx")
        return std::string(
            "nginx: keepalive N in the upstream block, N about the requests in flight to it, "
            "with proxy_http_version 1.1 and proxy_set_header Connection \"\" (idle connections "
            "beyond N are closed, each leaving a port in TIME_WAIT)");
    if (comm == "haproxy")
        return std::string("haproxy: http-reuse safe (or always) on the backend, and no option "
                           "httpclose / http-server-close");
    return std::nullopt;
}

}  // namespace c10k
