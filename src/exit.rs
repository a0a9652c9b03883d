//! Every exit status the command line returns, in one place.
//!
//! A script or a CI job tells outcomes apart by these numbers, so each has one meaning
//! across all commands, and `--help` and the README are written from [`Exit::ALL`] (a
//! test compares the README's table with it). Codes 64 and above follow BSD's
//! `sysexits.h`, which shells and service managers know: 64 `EX_USAGE`, 75 `EX_TEMPFAIL`.

use std::fmt::Write as _;
use std::process::ExitCode;

/// An exit status of `handbook-sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exit {
    /// 0: done; for `plan`, nothing to do.
    Success,
    /// 1: something failed (a page could not be read, a project may not be written, a
    /// write failed, GitLab could not be reached); everything else was still done.
    Failed,
    /// 2: `plan` only: there are changes to make. Not a failure.
    Changes,
    /// 3: the configuration is wrong (the message names the key) or the token is missing.
    Config,
    /// 4: a guard refused a page (mass close, mass create, or a page that left the
    /// handbook); nothing of it was written.
    Refused,
    /// 64 (`EX_USAGE`): the command line is wrong: an unknown flag, a missing or bad
    /// value. Nothing was read or sent.
    Usage,
    /// 75 (`EX_TEMPFAIL`): another run holds the project's lease; nothing was written,
    /// and trying again later is the remedy.
    LeaseHeld,
}

impl Exit {
    /// Every status, in numeric order.
    pub const ALL: [Exit; 7] = [
        Exit::Success,
        Exit::Failed,
        Exit::Changes,
        Exit::Config,
        Exit::Refused,
        Exit::Usage,
        Exit::LeaseHeld,
    ];

    /// The number the process exits with.
    pub const fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Changes => 2,
            Exit::Config => 3,
            Exit::Refused => 4,
            Exit::Usage => 64,
            Exit::LeaseHeld => 75,
        }
    }

    /// What the status means, in one line (for `--help` and the README).
    pub const fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "done; for plan: nothing to do",
            Exit::Failed => {
                "something failed (a page unreadable, a project not writable, a write refused, GitLab unreachable); the rest was done"
            }
            Exit::Changes => "plan only: changes to make (not a failure)",
            Exit::Config => "configuration error (the message names the key), or no token",
            Exit::Refused => {
                "a guard refused a page (mass close, mass create, a page gone from the handbook); nothing of it written"
            }
            Exit::Usage => "usage error: unknown flag, missing or bad value (sysexits EX_USAGE)",
            Exit::LeaseHeld => {
                "another run holds the project's lease; nothing written, try later (EX_TEMPFAIL)"
            }
        }
    }

    /// `  N  meaning` per status, for `--help`.
    pub fn help_text(statuses: &[Exit]) -> String {
        let mut out = String::from("Exit status:\n");
        for status in statuses {
            let _ = writeln!(out, "  {:>2}  {}", status.code(), status.meaning());
        }
        out
    }

    /// The statuses `plan` can end with.
    pub const PLAN: [Exit; 6] = [
        Exit::Success,
        Exit::Failed,
        Exit::Changes,
        Exit::Config,
        Exit::Refused,
        Exit::Usage,
    ];

    /// The statuses `apply` can end with.
    pub const APPLY: [Exit; 6] = [
        Exit::Success,
        Exit::Failed,
        Exit::Config,
        Exit::Refused,
        Exit::Usage,
        Exit::LeaseHeld,
    ];

    /// The statuses of the commands that read or serve but never plan (`parse`,
    /// `status`, `run`, `sandbox`, `demo`).
    pub const OTHER: [Exit; 4] = [Exit::Success, Exit::Failed, Exit::Config, Exit::Usage];
}

impl From<Exit> for ExitCode {
    fn from(status: Exit) -> ExitCode {
        ExitCode::from(status.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    #[test]
    fn every_status_has_its_own_code_and_all_is_in_numeric_order() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|s| s.code()).collect();
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(codes, sorted, "codes are unique and in order");
        // clap's own usage status is 2, which is plan's "changes to make".
        assert_ne!(Exit::Usage.code(), Exit::Changes.code());
        assert_eq!(Exit::Usage.code(), 64);
        assert_eq!(Exit::LeaseHeld.code(), 75);
    }

    #[test]
    fn the_help_text_lists_each_status_once() {
        let text = Exit::help_text(&Exit::ALL);
        for status in Exit::ALL {
            let line = format!("  {:>2}  ", status.code());
            assert_eq!(text.matches(&line).count(), 1, "{line:?} in\n{text}");
        }
    }
}
