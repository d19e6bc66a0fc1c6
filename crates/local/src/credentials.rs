//! The integration secret and API key: from the environment, or generated once and kept in
//! the data directory so that a newcomer needs no setup.

use anyhow::Context;
use std::path::Path;

pub struct Credentials {
    pub integration_secret: String,
    pub api_key: String,
    /// Whether they were generated just now (and should be shown to the user, this once).
    pub generated: bool,
}

/// Where they are kept, in the data directory, readable by its owner alone.
pub const FILE: &str = "credentials.env";

pub fn load_or_create(data: &Path) -> anyhow::Result<Credentials> {
    let from_env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    let path = data.join(FILE);
    if let (Some(integration_secret), Some(api_key)) = (
        from_env("SOCIALCARE_INTEGRATION_SECRET"),
        from_env("SOCIALCARE_API_KEY"),
    ) {
        if path.exists() {
            keep_private(&path)?;
        }
        return Ok(Credentials {
            integration_secret,
            api_key,
            generated: false,
        });
    }
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let (mut integration_secret, mut api_key) = (None, None);
    if let Ok(text) = std::fs::read_to_string(&path) {
        for line in text.lines() {
            match line.split_once('=') {
                // An empty value is no secret: a new one is made.
                Some(("SOCIALCARE_INTEGRATION_SECRET", v)) if !v.is_empty() => {
                    integration_secret = Some(v.to_string())
                }
                Some(("SOCIALCARE_API_KEY", v)) if !v.is_empty() => api_key = Some(v.to_string()),
                _ => {}
            }
        }
    }
    let generated = integration_secret.is_none() || api_key.is_none();
    let credentials = Credentials {
        integration_secret: from_env("SOCIALCARE_INTEGRATION_SECRET")
            .or(integration_secret)
            .map_or_else(|| random_token("whsec_"), Ok)?,
        api_key: from_env("SOCIALCARE_API_KEY")
            .or(api_key)
            .map_or_else(|| random_token("sk_"), Ok)?,
        generated,
    };
    if generated {
        write_private(
            &path,
            &format!(
                "SOCIALCARE_INTEGRATION_SECRET={}\nSOCIALCARE_API_KEY={}\n",
                credentials.integration_secret, credentials.api_key
            ),
        )?;
    }
    // A file copied in or made by an older version may be readable by others.
    keep_private(&path)?;
    Ok(credentials)
}

fn random_token(prefix: &str) -> anyhow::Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

pub(crate) fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
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

/// Makes the file readable and writable by its owner alone, whatever it was.
pub(crate) fn keep_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("reading {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("making {} private", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Issue 14: a credentials file left readable by others stayed so; and the secrets were
    /// printed at every start, not only when generated.
    #[test]
    fn generated_once_shown_once_and_kept_private() {
        // SAFETY: no other test of this crate reads these variables.
        unsafe {
            std::env::remove_var("SOCIALCARE_INTEGRATION_SECRET");
            std::env::remove_var("SOCIALCARE_API_KEY");
        }
        let data = tempfile::tempdir().unwrap();
        let path = data.path().join(FILE);
        let first = load_or_create(data.path()).unwrap();
        assert!(first.generated);
        assert!(first.integration_secret.starts_with("whsec_"));
        assert!(first.api_key.starts_with("sk_"));
        assert_eq!(mode(&path), 0o600);

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let again = load_or_create(data.path()).unwrap();
        assert!(!again.generated, "shown only when generated");
        assert_eq!(again.integration_secret, first.integration_secret);
        assert_eq!(again.api_key, first.api_key);
        assert_eq!(mode(&path), 0o600);

        // An empty value is no secret (anyone can sign with an empty key): a new one is made.
        std::fs::write(
            &path,
            "SOCIALCARE_INTEGRATION_SECRET=\nSOCIALCARE_API_KEY=sk_kept\n",
        )
        .unwrap();
        let renewed = load_or_create(data.path()).unwrap();
        assert!(renewed.generated);
        assert!(renewed.integration_secret.starts_with("whsec_"));
        assert_eq!(renewed.api_key, "sk_kept");
        // With both in the environment the file is not used, but still made private.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        unsafe {
            std::env::set_var("SOCIALCARE_INTEGRATION_SECRET", "whsec_env");
            std::env::set_var("SOCIALCARE_API_KEY", "sk_env");
        }
        let from_env = load_or_create(data.path()).unwrap();
        unsafe {
            std::env::remove_var("SOCIALCARE_INTEGRATION_SECRET");
            std::env::remove_var("SOCIALCARE_API_KEY");
        }
        assert!(!from_env.generated);
        assert_eq!(from_env.integration_secret, "whsec_env");
        assert_eq!(mode(&path), 0o600);
    }
}
