//! The floor for the functions' cold start: a `lambda_runtime` function that does nothing,
//! built with the same profile in the same run (`init-time` compares against it).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(
        |_: lambda_runtime::LambdaEvent<serde_json::Value>| async {
            Ok::<_, lambda_runtime::Error>(serde_json::Value::Null)
        },
    ))
    .await
}
