// SPDX-License-Identifier: GPL-2.0-or-later
// log2 histograms of nanoseconds, the shape the BPF maps keep.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace c10k {

// Slot i counts values in [2^i, 2^(i+1)).
struct Log2Hist {
    std::array<uint64_t, 32> slots{};
    uint64_t count() const;
    // Upper bound of the slot holding the p-th percentile (0 < p <= 1); 0 when empty.
    uint64_t percentile_ns(double p) const;
    void add(const Log2Hist& o);
    // Adds a histogram kept as a plain array of the same slots (a BPF map's value).
    template <typename Count, size_t N>
    void add(const Count (&counts)[N]) {
        static_assert(N == std::tuple_size_v<decltype(slots)>, "the same slots on both sides");
        for (size_t i = 0; i < N; ++i)
            slots[i] += counts[i];
    }
    void record(uint64_t ns);
};

}  // namespace c10k
