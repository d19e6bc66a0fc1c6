//! The integration secret and API key: from the environment, or generated once and kept in
//! the data directory so that a newcomer needs no setup.

use anyhow::Context;
use std::path::Path;

pub struct Credentials {
    pub integration_secret: String,
    pub api_key: String,
    /// Whether they were generated (and should be shown to the user).
    pub generated: bool,
}

const FILE: &str = "credentials.env";

pub fn load_or_create(data: &Path) -> anyhow::Result<Credentials> {
    let from_env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    if let (Some(integration_secret), Some(api_key)) = (
        from_env("SOCIALCARE_INTEGRATION_SECRET"),
        from_env("SOCIALCARE_API_KEY"),
    ) {
        return Ok(Credentials {
            integration_secret,
            api_key,
            generated: false,
        });
    }
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let path = data.join(FILE);
    let (mut integration_secret, mut api_key) = (None, None);
    if let Ok(text) = std::fs::read_to_string(&path) {
        for line in text.lines() {
            match line.split_once('=') {
                Some(("SOCIALCARE_INTEGRATION_SECRET", v)) => {
                    integration_secret = Some(v.to_string())
                }
                Some(("SOCIALCARE_API_KEY", v)) => api_key = Some(v.to_string()),
                _ => {}
            }
        }
    }
    let credentials = Credentials {
        integration_secret: from_env("SOCIALCARE_INTEGRATION_SECRET")
            .or(integration_secret)
            .map_or_else(|| random_token("whsec_"), Ok)?,
        api_key: from_env("SOCIALCARE_API_KEY")
            .or(api_key)
            .map_or_else(|| random_token("sk_"), Ok)?,
        generated: true,
    };
    write_private(
        &path,
        &format!(
            "SOCIALCARE_INTEGRATION_SECRET={}\nSOCIALCARE_API_KEY={}\n",
            credentials.integration_secret, credentials.api_key
        ),
    )?;
    Ok(credentials)
}

fn random_token(prefix: &str) -> anyhow::Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
