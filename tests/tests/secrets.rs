//! The functions read their secrets from Secrets Manager once, at start (here: in moto).

use socialcare_aws::secret_string;
use socialcare_tests::emulator;

#[tokio::test]
async fn a_secret_is_read_by_arn_and_a_missing_one_is_an_error() {
    let stack = emulator::deploy().await;
    let client = aws_sdk_secretsmanager::Client::new(&stack.config);
    let created = client
        .create_secret()
        .name(format!("{}-integration", stack.name))
        .secret_string("whsec_from_secrets_manager")
        .send()
        .await
        .unwrap();
    let arn = created.arn().unwrap();
    assert_eq!(
        secret_string(&client, arn).await.unwrap(),
        "whsec_from_secrets_manager"
    );

    let missing = secret_string(&client, &format!("{}-nothing", stack.name)).await;
    let error = missing.unwrap_err().to_string();
    assert!(error.contains("-nothing"), "{error}");
}
