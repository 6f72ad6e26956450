// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace c10k::test {
extern std::string g_netns_unavailable;  // empty when we are in a private netns
}

#define REQUIRE_PRIVATE_NETNS()                                   \
    do {                                                          \
        if (!c10k::test::g_netns_unavailable.empty())             \
            GTEST_SKIP() << "needs a private network namespace: " \
                         << c10k::test::g_netns_unavailable;      \
    } while (0)
