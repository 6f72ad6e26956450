// SPDX-License-Identifier: GPL-2.0-or-later
// The nonblocking epoll echo loop the target servers share: accept on
// `listener` (other loops may share it), echo each request after `on_request`.
#pragma once

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <vector>

namespace c10k::helpers {

template <typename F>
void epoll_echo_until(int listener, std::chrono::steady_clock::time_point end, F on_request) {
    ::fcntl(listener, F_SETFL, O_NONBLOCK);
    int ep = ::epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listener;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    std::vector<epoll_event> events(256);
    char buf[4096];
    while (std::chrono::steady_clock::now() < end) {
        int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
        for (int i = 0; i < n; ++i) {
            int fd = events[static_cast<size_t>(i)].data.fd;
            if (fd == listener) {
                int c;
                while ((c = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
                    epoll_event cev{};
                    cev.events = EPOLLIN;
                    cev.data.fd = c;
                    ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                }
                continue;
            }
            ssize_t r = ::read(fd, buf, sizeof buf);
            if (r <= 0) {
                if (r < 0 && errno == EAGAIN) continue;
                ::close(fd);
                continue;
            }
            on_request();
            (void)!::write(fd, buf, static_cast<size_t>(r));
        }
    }
    ::close(ep);
}

}  // namespace c10k::helpers
