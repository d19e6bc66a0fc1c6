//! The AWS side of the tests: the moto server started by `infra/test`, with the resources of
//! template.yaml deployed into it by CloudFormation. Nothing here fakes DynamoDB or SQS.

use crate::repo_root;
use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::{Capability, Parameter};
use std::collections::HashMap;

pub const INTEGRATION_SECRET: &str = "whsec_emulator_test_secret";
pub const API_KEY: &str = "sk_emulator_test_key_0123";

/// One deployment of template.yaml.
pub struct Stack {
    pub name: String,
    pub config: SdkConfig,
    pub table: String,
    pub inbound_queue_url: String,
    pub inbound_dead_letter_queue_url: String,
    pub outbox_queue_url: String,
    pub outbox_dead_letter_queue_url: String,
    pub reminders_queue_url: String,
    /// The KMS key that seals the brand accounts' tokens.
    pub token_key: String,
    /// The EventBridge bus the events go on.
    pub event_bus: String,
}

impl Stack {
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.config)
    }

    pub fn kms(&self) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::new(&self.config)
    }
}

/// Deploys template.yaml as a new stack (fresh table and queues) and reads its outputs.
pub async fn deploy() -> Stack {
    deploy_with(&[]).await
}

/// The same, with these parameters besides the two required ones.
pub async fn deploy_with(parameters: &[(&str, &str)]) -> Stack {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "the AWS tests run against the moto emulator: use ./infra/test, which starts it and sets AWS_ENDPOINT_URL"
    );
    let config = aws_config::load_from_env().await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&config);
    let template =
        std::fs::read_to_string(repo_root().join("template.yaml")).expect("template.yaml");
    let name = format!("t{}", ulid::Ulid::generate().to_string().to_lowercase());
    let parameter = |key: &str, value: &str| {
        Parameter::builder()
            .parameter_key(key)
            .parameter_value(value)
            .build()
    };
    let created = cloudformation
        .create_stack()
        .stack_name(&name)
        .template_body(template)
        .set_parameters(Some(
            [
                parameter("IntegrationSecret", INTEGRATION_SECRET),
                parameter("ApiKey", API_KEY),
            ]
            .into_iter()
            .chain(parameters.iter().map(|(key, value)| parameter(key, value)))
            .collect(),
        ))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityAutoExpand)
        .send()
        .await;
    // The name is new (a ULID): a stack that already has it is this request's own, created by
    // an attempt whose answer was lost (a loaded emulator closes the connection) and retried
    // by the SDK.
    if let Err(e) = created {
        let retried_after_creating = e
            .as_service_error()
            .is_some_and(|e| e.is_already_exists_exception());
        assert!(
            retried_after_creating,
            "the emulator deploys template.yaml: {e:?}"
        );
    }
    // A retried create finds the first still at work (the emulator answers it when done).
    let mut waited = 0;
    let described = loop {
        let described = cloudformation
            .describe_stacks()
            .stack_name(&name)
            .send()
            .await
            .expect("describe the stack");
        let creating = described
            .stacks()
            .first()
            .and_then(|stack| stack.stack_status())
            .is_some_and(|status| status.as_str() == "CREATE_IN_PROGRESS");
        if !creating || waited >= 600 {
            break described;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    };
    let stack = described.stacks().first().expect("the stack exists");
    assert_eq!(
        stack.stack_status().map(|s| s.as_str()),
        Some("CREATE_COMPLETE"),
        "{stack:?}"
    );
    let outputs: HashMap<String, String> = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
        .collect();
    let output = |key: &str| {
        outputs
            .get(key)
            .unwrap_or_else(|| panic!("template.yaml outputs {key}"))
            .clone()
    };
    Stack {
        table: output("TableName"),
        inbound_queue_url: output("InboundQueueUrl"),
        inbound_dead_letter_queue_url: output("InboundDeadLetterQueueUrl"),
        outbox_queue_url: output("OutboxQueueUrl"),
        outbox_dead_letter_queue_url: output("OutboxDeadLetterQueueUrl"),
        reminders_queue_url: output("RemindersQueueUrl"),
        token_key: output("TokenKeyArn"),
        event_bus: output("EventBusName"),
        name,
        config,
    }
}

/// The count-proxy (`socialcare-loadgen`) in front of the emulator, on a free loopback port:
/// what passes through it is priced and counted as AWS bills it.
pub struct CountProxy {
    pub url: String,
    http: reqwest::Client,
}

impl CountProxy {
    pub async fn start() -> Self {
        let upstream = std::env::var("AWS_ENDPOINT_URL").expect("the emulator's endpoint");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        tokio::spawn(async move {
            socialcare_loadgen::proxy::serve(listener, &upstream, None, std::future::pending())
                .await
                .expect("the proxy serves");
        });
        Self {
            url,
            http: reqwest::Client::new(),
        }
    }

    /// A DynamoDB client of `stack` that goes through the proxy (its own endpoint: an
    /// `SdkConfig`'s is overridden by `AWS_ENDPOINT_URL`).
    pub fn dynamodb(&self, stack: &Stack) -> aws_sdk_dynamodb::Client {
        let config = aws_sdk_dynamodb::config::Builder::from(&stack.config)
            .endpoint_url(&self.url)
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    /// The counts since the last call, which resets them.
    pub async fn take(&self) -> socialcare_loadgen::counts::Counts {
        let counts = self
            .http
            .get(format!("{}/__counts", self.url))
            .send()
            .await
            .expect("GET /__counts")
            .json()
            .await
            .expect("the counts");
        let reset = self
            .http
            .post(format!("{}/__counts/reset", self.url))
            .send()
            .await
            .expect("POST /__counts/reset");
        assert_eq!(reset.status(), 204);
        counts
    }
}
