//! The sealers of the brand accounts' tokens: KMS (on moto, the key template.yaml creates) and
//! the local runner's key file. A token opens only for the account it was sealed for, and an
//! altered one does not open.

use socialcare_aws::KmsSealer;
use socialcare_domain::ports::Sealer;
use socialcare_local::sealer::{KEY_FILE, LocalSealer};
use socialcare_tests::emulator;

async fn seals_for_one_account_only(sealer: &impl Sealer) {
    let token = br#"{"x":{"access_token":"1100-at","access_token_secret":"ats"}}"#;
    let sealed = sealer.seal("x:1100000000000000001", token).await.unwrap();
    assert!(!String::from_utf8_lossy(&base64_decoded(&sealed)).contains("1100-at"));
    assert_eq!(
        sealer.open("x:1100000000000000001", &sealed).await.unwrap(),
        token
    );
    let again = sealer.seal("x:1100000000000000001", token).await.unwrap();
    assert_ne!(sealed, again, "each sealing is its own");
    assert!(
        sealer.open("x:1100000000000000002", &sealed).await.is_err(),
        "another account's"
    );
    let mut altered = base64_decoded(&sealed);
    let last = altered.len() - 1;
    altered[last] ^= 1;
    let altered = base64_encoded(&altered);
    assert!(
        sealer
            .open("x:1100000000000000001", &altered)
            .await
            .is_err()
    );
    assert!(
        sealer
            .open("x:1100000000000000001", "not base64!")
            .await
            .is_err()
    );
}

fn base64_decoded(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn base64_encoded(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn kms_seals_for_one_account_only() {
    let stack = emulator::deploy().await;
    seals_for_one_account_only(&KmsSealer::new(stack.kms(), stack.token_key.clone())).await;
}

#[tokio::test]
async fn the_local_key_seals_for_one_account_only_and_is_kept_private() {
    let data = tempfile::tempdir().unwrap();
    let sealer = LocalSealer::load_or_create(data.path()).unwrap();
    seals_for_one_account_only(&sealer).await;
    let sealed = sealer.seal("facebook:1", b"page-token").await.unwrap();
    // The same key after a restart opens what was sealed before.
    let again = LocalSealer::load_or_create(data.path()).unwrap();
    assert_eq!(
        again.open("facebook:1", &sealed).await.unwrap(),
        b"page-token"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // Another data directory's key opens none of it.
    let other = tempfile::tempdir().unwrap();
    let stranger = LocalSealer::load_or_create(other.path()).unwrap();
    assert!(stranger.open("facebook:1", &sealed).await.is_err());
}

/// Review of issue 17: after a reconnect, a sender still holding the old token had it
/// refused for a minute and the new token showed as refused. Now a refused token is forgotten
/// at once and its refusal is recorded against it.
/// `socialcare-local --aws` keeps its tickets in DynamoDB and may have no data directory yet;
/// the key makes it.
#[tokio::test]
async fn the_local_key_makes_its_data_directory_when_there_is_none() {
    let parent = tempfile::tempdir().unwrap();
    let data = parent.path().join("not").join("yet");
    let sealer = LocalSealer::load_or_create(&data).unwrap();
    seals_for_one_account_only(&sealer).await;
    let key = std::fs::metadata(data.join(KEY_FILE)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn a_refused_token_is_forgotten_and_its_refusal_is_the_old_tokens() {
    use socialcare_app::tokens::{SenderTokens, seal_fn, sealed};
    use socialcare_domain::Source;
    use socialcare_domain::ports::AccountStore;
    use socialcare_platforms::tokens::{AccountToken, TokenEvent};
    use socialcare_sqlite::{Database, SqliteStore};
    let data = tempfile::tempdir().unwrap();
    let sealer = LocalSealer::load_or_create(data.path()).unwrap();
    let store = SqliteStore::new(Database::in_memory().unwrap());
    let token = |secret: &str| AccountToken::X {
        access_token: format!("1100-{secret}"),
        access_token_secret: secret.into(),
    };
    let seal = seal_fn(sealer.clone());
    let brand = "1100000000000000001";
    let old = sealed(&seal, Source::X, brand, &token("old"), None, "sally")
        .await
        .unwrap();
    store.put_token(&old).await.unwrap();
    let tokens = SenderTokens::new(store.clone(), sealer);
    let (lookup, events) = (tokens.lookup(), tokens.events());
    assert_eq!(
        lookup(Source::X, brand.into()).await,
        Ok(Some(token("old")))
    );
    // Reconnected meanwhile; the sender still holds the old one until X refuses it.
    let new = sealed(&seal, Source::X, brand, &token("new"), None, "sally")
        .await
        .unwrap();
    store.put_token(&new).await.unwrap();
    assert_eq!(
        lookup(Source::X, brand.into()).await,
        Ok(Some(token("old")))
    );
    events(TokenEvent::Refused {
        source: Source::X,
        account: brand.into(),
        reason: "X refused the post (401): Invalid or expired token.".into(),
    })
    .await;
    assert_eq!(
        lookup(Source::X, brand.into()).await,
        Ok(Some(token("new")))
    );
    let health = store.account_health(Source::X, brand).await.unwrap();
    assert_eq!(health.refused_token_set_at, Some(old.set_at));
    assert!(health.token_holds(new.set_at), "the new token holds");
    assert!(!health.token_holds(old.set_at));
    // A token that does not open is an error to retry, not "none".
    let mut broken = new.clone();
    broken.sealed = "bm90IHNlYWxlZA==".into();
    store.put_token(&broken).await.unwrap();
    let fresh = SenderTokens::new(
        store.clone(),
        LocalSealer::load_or_create(data.path()).unwrap(),
    );
    assert!(fresh.lookup()(Source::X, brand.into()).await.is_err());
    assert_eq!(fresh.lookup()(Source::X, "other".into()).await, Ok(None));
}
