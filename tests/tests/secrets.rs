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

/// Issue 18: a function's secrets in one request at cold start, by ARN; one that is not there
/// is an error that names it.
#[tokio::test]
async fn secrets_are_read_together_and_a_missing_one_is_named() {
    let stack = emulator::deploy().await;
    let client = aws_sdk_secretsmanager::Client::new(&stack.config);
    let mut arns = Vec::new();
    for n in 0..3 {
        let created = client
            .create_secret()
            .name(format!("{}-batch-{n}", stack.name))
            .secret_string(format!("value {n}"))
            .send()
            .await
            .unwrap();
        arns.push(created.arn().unwrap().to_string());
    }
    let values = socialcare_aws::secret_strings(&client, &arns)
        .await
        .unwrap();
    for (n, arn) in arns.iter().enumerate() {
        assert_eq!(
            values.get(arn).map(String::as_str),
            Some(format!("value {n}").as_str())
        );
    }
    let missing = format!("{}-batch-missing", stack.name);
    arns.push(missing.clone());
    let refused = socialcare_aws::secret_strings(&client, &arns)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains(&missing), "{refused}");
}
