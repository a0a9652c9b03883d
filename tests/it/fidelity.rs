//! python-gitlab, a GitLab client nobody on this team wrote, runs a scripted workflow
//! (`tests/fidelity/python_gitlab.py`) against the sandbox binary.
//!
//! The test installs python-gitlab, pinned by `tests/fidelity/requirements.txt`, from PyPI
//! into a virtualenv under `target/py-venv` the first time (and again when the pins
//! change); `python3` with `venv` is all it needs from the machine.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn venv_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target/py-venv");
    let requirements = root.join("tests/fidelity/requirements.txt");
    let installed = venv.join("installed-requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    if std::fs::read_to_string(&installed).ok().as_deref() != Some(wanted.as_str()) {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "python3 -m venv {} failed: this test needs Python 3 with the venv module \
             (on Debian or Ubuntu: apt-get install python3 python3-venv; .ci/run installs them)",
            venv.display()
        );
        let ok = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements)
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "installing {} from PyPI failed: this test needs PyPI to be reachable",
            requirements.display()
        );
        std::fs::write(&installed, wanted).unwrap();
    }
    venv.join("bin/python")
}

#[test]
fn python_gitlab_runs_its_workflow_against_the_sandbox() {
    let python = venv_python();
    let mut sandbox = Command::new(env!("CARGO_BIN_EXE_handbook-sync"))
        .args([
            "sandbox",
            "--token",
            common::TOKEN,
            "--project",
            "acme/roadmap",
            "--user",
            "drew:Drew",
            // The default tier, Free: the script's board is created there too.
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(sandbox.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fidelity/python_gitlab.py");
    let output = Command::new(python)
        .arg(script)
        .args([&url, common::TOKEN])
        .output()
        .unwrap();
    sandbox.kill().unwrap();
    sandbox.wait().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python-gitlab workflow failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("checks passed"), "{stdout}");
}
