//! The brand accounts a burst writes to. The runner keeps platform events only for the accounts
//! of its SOCIALCARE_CONFIG (others are answered 200 and dropped), and has none by default, so
//! the runner must be started with a config naming these ids: `socialcare-loadgen accounts`
//! prints one.

use clap::Args;

/// The brand's ids on each platform, and the integration's name.
#[derive(Debug, Clone, Args)]
pub struct Brand {
    /// The brand's X user id (`for_user_id` of the Account Activity deliveries).
    #[arg(long, default_value = "1100000000000000001")]
    pub x_account: String,
    /// The brand's X handle, mentioned in the customers' tweets.
    #[arg(long, default_value = "acme_care")]
    pub x_handle: String,
    /// The brand's Facebook page id (`entry.id` of the page deliveries).
    #[arg(long, default_value = "1234567890321")]
    pub facebook_page: String,
    /// The brand's Instagram account id (`entry.id` of the instagram deliveries).
    #[arg(long, default_value = "17841452691600098")]
    pub instagram_account: String,
    /// The `source` of the integrator events (their account in socialcare).
    #[arg(long, default_value = "loadgen")]
    pub integration_source: String,
}

/// The SOCIALCARE_CONFIG document that serves `brand`. Acknowledgements are off unless asked
/// for: with them each new public ticket also gets an outbound message and an outbox job,
/// which the sender fails without platform credentials (a cost that is not ingest's).
pub fn config_toml(brand: &Brand, acknowledgements: bool) -> String {
    let accounts = [
        ("x", &brand.x_account, Some(&brand.x_handle)),
        ("facebook", &brand.facebook_page, None),
        ("instagram", &brand.instagram_account, None),
    ];
    let mut toml = String::from("# Brand accounts for socialcare-loadgen bursts.\n");
    for (platform, id, handle) in accounts {
        toml.push_str(&format!(
            "\n[[accounts]]\nplatform = \"{platform}\"\nid = \"{id}\"\n"
        ));
        if let Some(handle) = handle {
            toml.push_str(&format!("handle = \"{handle}\"\n"));
        }
        toml.push_str(&format!(
            "[accounts.acknowledgement]\nenabled = {acknowledgements}\n"
        ));
    }
    toml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_platform_account() {
        let brand = Brand {
            x_account: "1".into(),
            x_handle: "acme".into(),
            facebook_page: "2".into(),
            instagram_account: "3".into(),
            integration_source: "loadgen".into(),
        };
        let toml = config_toml(&brand, false);
        for expected in [
            "platform = \"x\"\nid = \"1\"\nhandle = \"acme\"",
            "platform = \"facebook\"\nid = \"2\"",
            "platform = \"instagram\"\nid = \"3\"",
        ] {
            assert!(toml.contains(expected), "{toml}");
        }
        assert_eq!(toml.matches("enabled = false").count(), 3);
    }
}
