//! `sandbox`: the GitLab-compatible test server, on a port.

use std::process::ExitCode;

use anyhow::Context as _;

use super::{SandboxArgs, runtime, shutdown_signal};

pub(super) fn sandbox_command(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    let users = args
        .users
        .iter()
        .map(|spec| {
            let (username, name) = spec.split_once(':').unwrap_or((spec, spec));
            (username.to_owned(), name.to_owned())
        })
        .collect();
    let config = gitlab_sandbox::Config {
        token: args.token,
        projects: args.projects,
        users,
        members: Vec::new(),
        state_file: args.state,
        tier: args.tier.parse().map_err(anyhow::Error::msg)?,
        features: args.features,
        label_titles: args.label_titles.parse().map_err(anyhow::Error::msg)?,
    };
    runtime()?.block_on(async move {
        let sandbox = gitlab_sandbox::Sandbox::bind(args.listen, config).await?;
        println!("listening on {}", sandbox.url());
        use std::io::Write as _;
        std::io::stdout().flush().context("writing to stdout")?;
        sandbox
            .serve(shutdown_signal())
            .await
            .context("serving the sandbox")?;
        tracing::info!("sandbox stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// `--project GROUP/NAME[:VISIBILITY]` → (path, visibility); a bad one is a usage error.
pub(super) fn project_spec(spec: &str) -> Result<(String, String), String> {
    let (path, visibility) = spec.rsplit_once(':').unwrap_or((spec, "public"));
    if !matches!(visibility, "public" | "private" | "internal") {
        return Err(format!(
            "visibility `{visibility}` must be public, private or internal"
        ));
    }
    if !path.contains('/') || path.starts_with('/') || path.ends_with('/') {
        return Err("expected GROUP/NAME".into());
    }
    Ok((path.to_owned(), visibility.to_owned()))
}
