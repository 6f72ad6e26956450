// SPDX-License-Identifier: GPL-2.0-or-later
#include "c10k/tune/journey.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "c10k/diagnose/verdict.hpp"
#include "c10k/enum_names.hpp"
#include "c10k/probe/probe.hpp"
#include "c10k/profile/transaction.hpp"
#include "c10k/sources/sysctl.hpp"

namespace c10k::tune {

namespace {

constexpr std::array<const char*, 9> kOutcomeNames = {
    "kept",        "rolled back",   "shown",           "declined", "refused",
    "interrupted", "target exited", "application fix", "healthy"};
static_assert(names_every(kOutcomeNames, RoundOutcome::healthy));

struct Session {
    const TuneOptions& o;
    const TuneHooks& hooks;
    const std::atomic<bool>& stop;
    TuneJourney journey;
    std::optional<StateDir> state;
    std::optional<Journal> kept;  // the one journal every kept change ends in

    void say(const std::string& line) const {
        if (hooks.progress) hooks.progress(line);
    }

    Result<ProbeEvidence> probe(const std::string& why) {
        say(fmt::format("{}: probing PID {} for {:g} s", why, o.pid, o.duration_s));
        ProbeOptions po;
        po.pid = o.pid;
        po.duration_s = o.duration_s;
        po.interval_s = std::min(o.interval_s, o.duration_s);
        po.mode = o.mode;
        return run_probe(po, nullptr, stop);
    }

    CurrentLimits current_limits() const {
        CurrentLimits now;
        auto values = read_sysctls(SysRoot{}, tunable_keys());
        for (const auto& [k, v] : values.values)
            if (!values.host_wide.count(k)) now.sysctls[k] = v;
        if (auto p = read_process(SysRoot{}, o.pid, false); p && p->nofile) now.nofile = *p->nofile;
        return now;
    }

    // Undoes one round's change; what could not be put back is said, and its
    // journal stays pending for `profile rollback` to retry.
    void undo(const std::string& journal_id, TuneRound& round) {
        auto back = rollback(*state, journal_id);
        round.undo_failed = !back || !back->problems.empty();
        if (!back) {
            round.reason += fmt::format(
                "; COULD NOT UNDO: {} (`c10k-doctor profile rollback {}` "
                "retries)",
                back.error().message(), journal_id);
            return;
        }
        for (const auto& p : back->problems)
            round.reason += fmt::format(
                "; could not restore {} (`c10k-doctor profile rollback "
                "{}` retries)",
                p, journal_id);
        for (const auto& n : back->notes)
            journey.notes.push_back(n);
    }

    // Folds a kept round's journal into the tune's one journal.
    Status keep(const std::string& journal_id) {
        auto j = state->load(journal_id);
        if (!j) return j.error();
        if (!kept) {
            kept = std::move(*j);
            journey.journal_id = kept->id;
            return ok_status();
        }
        merge_journal(*kept, *j);
        // The merged journal is durable before the round's own one goes: a
        // crash in between leaves two journals that both restore correctly.
        if (auto st = state->write(*kept); !st) return st;
        return state->remove(journal_id);
    }

    void persist_commands() {
        if (!kept) return;
        for (const auto& s : kept->sysctls)
            journey.persist.push_back(fmt::format(
                "echo '{} = {}' >> /etc/sysctl.d/90-c10k-doctor-tune.conf", s.key, s.after));
        for (const auto& r : kept->rlimits) {
            if (!o.unit.empty())
                journey.persist.push_back(fmt::format(
                    "mkdir -p /etc/systemd/system/{0}.d && printf '[Service]\\nLimitNOFILE={1}\\n' "
                    "> /etc/systemd/system/{0}.d/90-c10k-doctor.conf && systemctl daemon-reload",
                    o.unit, r.after_soft));
            else
                journey.persist.push_back(fmt::format(
                    "LimitNOFILE={} in the server's systemd unit, or `ulimit -n {}` in the script "
                    "that starts it",
                    r.after_soft, r.after_soft));
        }
    }

    // One round from a baseline; returns the evidence the next round starts
    // from, or nothing when the journey ends here.
    std::optional<ProbeEvidence> round(int number, ProbeEvidence baseline,
                                       const NamespaceTarget& ns) {
        TuneRound r;
        r.number = number;
        auto verdict = judge(baseline);
        const auto& top = verdict.findings.front();
        r.verdict = top.id.bottleneck().value_or(Bottleneck::healthy);
        r.title = top.title;
        journey.final_verdict = r.verdict;
        if (r.verdict == Bottleneck::healthy) {
            r.outcome = RoundOutcome::healthy;
            r.reason = "the probe found nothing that limits this server";
            journey.rounds.push_back(r);
            return std::nullopt;
        }
        auto plan = plan_fix(top, baseline, current_limits());
        r.changes = plan.changes;
        r.live = plan.live;
        r.to_make_it_act = plan.to_make_it_act;
        // Its fix was kept in an earlier round and the verdict holds anyway.
        bool tried_before =
            std::any_of(journey.rounds.begin(), journey.rounds.end(), [&](const TuneRound& x) {
                return x.outcome == RoundOutcome::kept && x.verdict == r.verdict;
            });
        if (!plan.profile || plan.changes.empty() || tried_before) {
            r.outcome = RoundOutcome::app_fix;
            r.reason = tried_before ? "its kernel fix was kept and the verdict holds: the rest is "
                                      "the application's"
                                    : plan.why;
            journey.app_fix = plan.app_fix;
            journey.rounds.push_back(r);
            return std::nullopt;
        }
        r.before = symptom_of(r.verdict, baseline);
        r.work_before = throughput_of(baseline);
        if (o.dry_run) {
            r.outcome = RoundOutcome::shown;
            r.reason = plan.why;
            journey.rounds.push_back(r);
            return std::nullopt;
        }
        if (hooks.confirm && !hooks.confirm(plan)) {
            r.outcome = RoundOutcome::declined;
            r.reason = "not applied";
            journey.rounds.push_back(r);
            return std::nullopt;
        }

        ApplyOptions ao;
        ao.pid = o.pid;
        auto applied = make_plan(*plan.profile, ns, ao);
        Result<ApplyOutcome> done =
            applied ? apply_plan(*applied, ao, *state) : Result<ApplyOutcome>(applied.error());
        if (!done || done->journal_id.empty()) {
            r.outcome = RoundOutcome::refused;
            r.reason = done ? (done->notes.empty() ? "nothing changed" : done->notes.front())
                            : done.error().message();
            journey.rounds.push_back(r);
            return std::nullopt;
        }
        for (const auto& n : done->notes)
            journey.notes.push_back(n);
        say(fmt::format("round {}: applied {} change(s) (journal {})", number, r.changes.size(),
                        done->journal_id));

        auto after = probe(fmt::format("round {}, after", number));
        if (!after || after->target_exited || after->interrupted || stop.load()) {
            r.outcome = !after || after->target_exited ? RoundOutcome::target_exited
                                                       : RoundOutcome::interrupted;
            r.reason = !after ? after.error().message()
                       : after->target_exited
                           ? "the target exited during the window: the change is not proved"
                           : "interrupted before the change was proved";
            r.reason += "; undone";
            undo(done->journal_id, r);
            journey.rounds.push_back(r);
            return std::nullopt;
        }
        r.after = symptom_of(r.verdict, *after);
        r.work_after = throughput_of(*after, r.work_before->what);
        auto d = decide(r.before, r.after, *r.work_before, *r.work_after);
        r.reason = d.reason;
        if (d.keep) {
            if (auto st = keep(done->journal_id); !st)
                journey.notes.push_back("the kept change's journal could not be merged: " +
                                        st.error().message());
            r.outcome = RoundOutcome::kept;
            journey.rounds.push_back(r);
            journey.final_verdict =
                judge(*after).findings.front().id.bottleneck().value_or(Bottleneck::healthy);
            return std::move(*after);
        }
        if (!plan.live) r.reason += "; " + plan.to_make_it_act;
        r.reason += "; undone";
        undo(done->journal_id, r);
        r.outcome = RoundOutcome::rolled_back;
        journey.rounds.push_back(r);
        journey.app_fix = plan.app_fix;
        return std::nullopt;
    }
};

}  // namespace

std::string_view to_string(RoundOutcome o) {
    return enum_name(kOutcomeNames, o);
}

Result<TuneJourney> run_tune(const TuneOptions& o, const TuneHooks& hooks,
                             const std::atomic<bool>& stop) {
    Session s{o, hooks, stop, {}, std::nullopt, std::nullopt};
    s.journey.pid = o.pid;
    s.journey.window_s = o.duration_s;
    // Changes go where the target lives: its network namespace.
    ApplyOptions ao;
    ao.pid = o.pid;
    auto ns = enter_target_namespace(ao);
    if (!ns) return ns.error();
    if (!o.dry_run) {
        auto st = StateDir::open(o.state_dir);
        if (!st) return st.error();
        s.state.emplace(std::move(*st));
        // One tune at a time, and no profile apply or rollback in between.
        if (auto locked = s.state->lock(); !locked) return locked.error();
    }
    auto baseline = s.probe("round 1, before");
    if (!baseline) return baseline.error();
    s.journey.comm = baseline->comm;
    if (baseline->interrupted || baseline->target_exited) {
        s.journey.notes.push_back(baseline->target_exited
                                      ? "the target exited during the first window"
                                      : "interrupted during the first window: nothing changed");
        return s.journey;
    }
    std::optional<ProbeEvidence> next = std::move(*baseline);
    for (int n = 1; n <= o.rounds && next; ++n) {
        auto from = std::move(*next);
        next = s.round(n, std::move(from), *ns);
    }
    if (next && static_cast<int>(s.journey.rounds.size()) == o.rounds)
        s.journey.notes.push_back(
            fmt::format("the {} round(s) ran out; tune again to go on", o.rounds));
    s.persist_commands();
    return s.journey;
}

}  // namespace c10k::tune
