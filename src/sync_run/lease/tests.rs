//! The lease's pure parts: descriptions, clocks, validity, the fence's arithmetic.

use super::identity::clean;
use super::*;

fn holder() -> Holder {
    Holder {
        run: "00ff".into(),
        host: "ci-runner-7".into(),
        pid: 4242,
        command: "handbook-sync apply".into(),
        since: "2026-12-07T10:00:00Z".parse().unwrap(),
        until: "2026-12-07T10:05:00Z".parse().unwrap(),
    }
}

#[test]
fn a_description_says_who_holds_it_and_reads_back() {
    let text = holder().describe();
    assert!(text.contains("host ci-runner-7, pid 4242, `handbook-sync apply`, since 2026-12-07T10:00:00Z, until 2026-12-07T10:05:00Z"), "{text}");
    assert!(text.contains("Never put this label on an issue"), "{text}");
    assert!(
        !text.contains('<') && !text.contains('>'),
        "no HTML for GitLab to strip: {text}"
    );
    assert_eq!(Holder::parse(&text), Some(holder()));
    assert_eq!(Holder::parse("Release blocker"), None);
    assert_eq!(Holder::parse("lease-v1 {not json"), None);
}

fn policy() -> LeasePolicy {
    LeasePolicy {
        label: "handbook-sync-lease".into(),
        wait: Duration::ZERO,
        ttl: Duration::from_secs(304),
        renew_every: Duration::from_secs(60),
        poll: Duration::from_secs(5),
        margin: Duration::from_secs(32),
        me: Identity {
            run: "00ff".into(),
            host: "laptop".into(),
            pid: 1,
            command: "handbook-sync apply".into(),
        },
    }
}

/// A moment `mono` later on the monotonic clock and `wall` later on the wall clock.
fn later(m: Moment, mono: u64, wall: u64) -> Moment {
    Moment {
        mono: m.mono + Duration::from_secs(mono),
        wall: m.wall + chrono::TimeDelta::seconds(wall as i64),
    }
}

/// A laptop takes the lease, then sleeps an hour (lid closed) ten seconds later. Its
/// monotonic clock counted ten seconds; by it the lease still held for minutes after
/// waking, and the writes queued before the sleep went out at once, while another run
/// had taken the expired lease over. The wall clock counted the hour: the lease has
/// lapsed, and no write goes out before a renewal (which finds it taken, or renews it).
#[test]
fn a_machine_that_slept_past_its_lease_writes_nothing_on_waking() {
    let taken = Moment::now();
    let gitlab = "2026-12-07T10:00:00Z".parse().unwrap();
    let valid = policy().validity(
        taken,
        gitlab + chrono::TimeDelta::seconds(304),
        Some(gitlab),
    );
    let awake = later(taken, 10, 3600);
    assert!(
        awake.mono.saturating_duration_since(taken.mono) + Duration::from_secs(120) <= valid.length,
        "by the monotonic clock alone it would still hold for a turn's budget"
    );
    assert!(!valid.admits(awake, Duration::ZERO));
    assert!(valid.admits(later(taken, 10, 10), Duration::from_secs(120)));
}

/// GitLab's time is the last `Date` plus the time since, a sleep included: a renewal
/// right after waking writes an expiry from GitLab's time now, not from before the
/// sleep (which other runs would read as already past).
#[test]
fn gitlab_time_moves_on_while_the_machine_sleeps() {
    let seen = Moment::now();
    let date: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
    let clock = Clock {
        date: Some((date, seen)),
    };
    assert_eq!(
        clock.now_at(later(seen, 10, 3600)),
        date + chrono::TimeDelta::hours(1)
    );
    // A wall clock set back (NTP) does not take GitLab's time back.
    let set_back = Moment {
        mono: seen.mono + Duration::from_secs(10),
        wall: seen.wall - chrono::TimeDelta::minutes(5),
    };
    assert_eq!(
        clock.now_at(set_back),
        date + chrono::TimeDelta::seconds(10)
    );
}

/// A renewal whose expiry was worked out from a wrong idea of GitLab's time (here an
/// hour behind, as after a sleep the clock missed) reads, by the `Date` of its own
/// answer, as already expired: it opens no fence, whatever this machine believes.
#[test]
fn a_renewal_already_past_by_gitlabs_answer_opens_no_fence() {
    let sent = Moment::now();
    let believed: DateTime<Utc> = "2026-12-07T10:00:00Z".parse().unwrap();
    let until = believed + chrono::TimeDelta::seconds(304);
    let answered = believed + chrono::TimeDelta::hours(1);
    let valid = policy().validity(sent, until, Some(answered));
    assert!(!valid.admits(sent, Duration::ZERO), "{valid:?}");
    // Renewed from GitLab's time, it holds its lifetime less the margin and a second.
    let valid = policy().validity(sent, until, Some(believed));
    assert_eq!(valid.length, Duration::from_secs(304 - 1 - 32));
}

#[test]
fn names_lose_what_gitlab_would_strip() {
    assert_eq!(clean("ci<script>\n7"), "ciscript7");
}
